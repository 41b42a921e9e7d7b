//! The per-connection state machines: the hub's (awaiting hello → authenticated →
//! closing) and the client's (awaiting welcome → ready).

use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{MediaControl, MediaWelcome};

use super::limits::{body_name, validate_control};
use super::{ErrorCode, ProtocolError, StreamKind};
use crate::seams::{Role, SessionAuthorizer, SessionGrant};

/// Where the hub's side of a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
    /// Connected; nothing but the control stream and its hello is accepted.
    AwaitingHello,
    /// The hello's token was accepted.
    Authenticated(SessionGrant),
    /// The participant said bye; the connection is being closed.
    Closing,
}

/// What the hub does with a control message it accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlOutcome {
    /// The hello was accepted: answer with a welcome and announce the participant.
    Welcomed(SessionGrant),
    /// Relay the message to the other participant.
    Relay(MediaControl),
    /// The participant is leaving; close the connection with [`ErrorCode::None`].
    Bye(String),
}

/// The hub's state machine for one connection: which streams, datagrams and control
/// messages are acceptable now, and who the peer is.
#[derive(Debug)]
pub struct ServerConnection {
    state: ServerState,
    control_opened: bool,
}

impl Default for ServerConnection {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerConnection {
    /// A connection that has just completed its handshake.
    pub fn new() -> Self {
        ServerConnection {
            state: ServerState::AwaitingHello,
            control_opened: false,
        }
    }

    /// Who the peer is, once the hello was accepted.
    pub fn grant(&self) -> Option<&SessionGrant> {
        match &self.state {
            ServerState::Authenticated(grant) => Some(grant),
            _ => None,
        }
    }

    /// The peer opened a stream whose first byte is `first_byte`.
    pub fn on_stream(
        &mut self,
        first_byte: u8,
        bidirectional: bool,
    ) -> Result<StreamKind, ProtocolError> {
        let kind = StreamKind::from_byte(first_byte)?;
        let misplaced = || {
            let direction = if bidirectional {
                "bidirectional"
            } else {
                "unidirectional"
            };
            ProtocolError::new(
                ErrorCode::UnknownStreamKind,
                format!("a {direction} stream cannot carry {kind:?}"),
            )
        };
        match (&self.state, kind, bidirectional) {
            (_, StreamKind::Control, true) if self.control_opened => Err(ProtocolError::new(
                ErrorCode::UnexpectedMessage,
                "a second control stream was opened",
            )),
            (ServerState::AwaitingHello, StreamKind::Control, true) => {
                self.control_opened = true;
                Ok(kind)
            }
            (_, StreamKind::Control, false)
            | (_, StreamKind::PhotoUpload, false)
            | (_, StreamKind::VideoFrame, true) => Err(misplaced()),
            (ServerState::AwaitingHello, _, _) => {
                Err(hello_required(&format!("a {kind:?} stream")))
            }
            (ServerState::Closing, _, _) => Err(closing()),
            (ServerState::Authenticated(_), _, _) => Ok(kind),
        }
    }

    /// The peer sent a datagram whose first byte is `first_byte` (`None` if empty).
    pub fn on_datagram(&mut self, first_byte: Option<u8>) -> Result<(), ProtocolError> {
        let byte = first_byte.ok_or_else(|| ProtocolError::malformed("empty datagram"))?;
        let kind = StreamKind::from_byte(byte)?;
        if kind != StreamKind::VideoFrame {
            return Err(ProtocolError::new(
                ErrorCode::UnknownStreamKind,
                format!("a datagram cannot carry {kind:?}"),
            ));
        }
        match self.state {
            ServerState::AwaitingHello => Err(hello_required("a datagram")),
            ServerState::Closing => Err(closing()),
            ServerState::Authenticated(_) => Ok(()),
        }
    }

    /// The peer sent `message` on the control stream.
    pub fn on_control(
        &mut self,
        message: MediaControl,
        authorizer: &dyn SessionAuthorizer,
    ) -> Result<ControlOutcome, ProtocolError> {
        let body = validate_control(&message)?;
        match (&self.state, body) {
            (ServerState::AwaitingHello, Body::Hello(hello)) => {
                let grant = authorizer
                    .authorize(&hello.token)
                    .map_err(|e| ProtocolError::new(e.code(), e.to_string()))?;
                if grant.session_id != hello.session_id {
                    return Err(ProtocolError::new(
                        ErrorCode::WrongSession,
                        format!(
                            "the token is for another session than {:?}",
                            hello.session_id
                        ),
                    ));
                }
                self.state = ServerState::Authenticated(grant.clone());
                Ok(ControlOutcome::Welcomed(grant))
            }
            (ServerState::AwaitingHello, other) => Err(hello_required(body_name(other))),
            (ServerState::Closing, _) => Err(closing()),
            (ServerState::Authenticated(grant), body) => match body {
                Body::GuideStep(_) | Body::CaptureRequest(_) | Body::Annotation(_) => {
                    if grant.role != Role::Technician {
                        return Err(ProtocolError::new(
                            ErrorCode::NotPermitted,
                            format!("a {} may not send a {}", grant.role, body_name(body)),
                        ));
                    }
                    Ok(ControlOutcome::Relay(message))
                }
                Body::Bye(bye) => {
                    let reason = bye.reason.clone();
                    self.state = ServerState::Closing;
                    Ok(ControlOutcome::Bye(reason))
                }
                Body::Hello(_)
                | Body::Welcome(_)
                | Body::PhotoVerdict(_)
                | Body::ParticipantJoined(_)
                | Body::ParticipantLeft(_)
                | Body::Error(_) => Err(ProtocolError::new(
                    ErrorCode::UnexpectedMessage,
                    format!("a client may not send a {} here", body_name(body)),
                )),
            },
        }
    }
}

fn hello_required(what: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::HelloRequired,
        format!("{what} arrived before the hello"),
    )
}

fn closing() -> ProtocolError {
    ProtocolError::new(ErrorCode::UnexpectedMessage, "input after bye")
}

/// Checks a control message the hub is about to send into a session: valid, and of a
/// kind the hub sends (not a hello, welcome or bye).
pub fn check_from_hub(message: &MediaControl) -> Result<(), ProtocolError> {
    match validate_control(message)? {
        body @ (Body::Hello(_) | Body::Welcome(_) | Body::Bye(_)) => Err(ProtocolError::new(
            ErrorCode::UnexpectedMessage,
            format!("the hub does not send a {} into a session", body_name(body)),
        )),
        _ => Ok(()),
    }
}

/// The client's state machine for one connection.
#[derive(Debug, Default)]
pub struct ClientConnection {
    welcome: Option<MediaWelcome>,
}

impl ClientConnection {
    /// A connection whose hello has been sent.
    pub fn new() -> Self {
        ClientConnection::default()
    }

    /// The hub's welcome, once it arrived.
    pub fn welcome(&self) -> Option<&MediaWelcome> {
        self.welcome.as_ref()
    }

    /// The hub sent `message` on the control stream.
    pub fn on_control(&mut self, message: &MediaControl) -> Result<(), ProtocolError> {
        let body = validate_control(message)?;
        match (&self.welcome, body) {
            (None, Body::Welcome(welcome)) => {
                self.welcome = Some(welcome.clone());
                Ok(())
            }
            (None, other) => Err(ProtocolError::new(
                ErrorCode::UnexpectedMessage,
                format!("the hub sent a {} before its welcome", body_name(other)),
            )),
            (Some(_), Body::Hello(_) | Body::Welcome(_) | Body::Bye(_)) => Err(ProtocolError::new(
                ErrorCode::UnexpectedMessage,
                format!("the hub sent a {}", body_name(body)),
            )),
            (Some(_), _) => Ok(()),
        }
    }

    /// The hub opened a stream whose first byte is `first_byte`: only video frames on
    /// unidirectional streams are expected (possibly ahead of the welcome, which
    /// travels on another stream).
    pub fn on_stream(
        &self,
        first_byte: u8,
        bidirectional: bool,
    ) -> Result<StreamKind, ProtocolError> {
        match StreamKind::from_byte(first_byte)? {
            StreamKind::VideoFrame if !bidirectional => Ok(StreamKind::VideoFrame),
            kind => Err(ProtocolError::new(
                ErrorCode::UnknownStreamKind,
                format!("the hub opened a stream of kind {kind:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use fieldlens_proto::v1::{
        MediaAnnotation, MediaAnnotationKind, MediaBye, MediaGuideStep, MediaHello, MediaPoint,
    };

    use super::*;
    use crate::seams::AuthError;

    struct Table(HashMap<&'static str, Result<SessionGrant, AuthError>>);

    impl SessionAuthorizer for Table {
        fn authorize(&self, token: &str) -> Result<SessionGrant, AuthError> {
            self.0
                .get(token)
                .cloned()
                .unwrap_or_else(|| Err(AuthError::Invalid("unknown token".into())))
        }
    }

    fn grant(session: &str, role: Role) -> SessionGrant {
        SessionGrant {
            session_id: session.into(),
            role,
            participant_id: format!("{role}-1"),
        }
    }

    fn authorizer() -> Table {
        Table(HashMap::from([
            ("caller-a", Ok(grant("s-a", Role::Caller))),
            ("tech-a", Ok(grant("s-a", Role::Technician))),
            ("old", Err(AuthError::Expired)),
        ]))
    }

    fn control(body: Body) -> MediaControl {
        MediaControl { body: Some(body) }
    }

    fn hello(token: &str, session: &str) -> MediaControl {
        control(Body::Hello(MediaHello {
            token: token.into(),
            session_id: session.into(),
            client: "test".into(),
        }))
    }

    fn guide_step() -> MediaControl {
        control(Body::GuideStep(MediaGuideStep {
            step_id: "front-left".into(),
            ..Default::default()
        }))
    }

    fn connected(token: &str) -> ServerConnection {
        let mut connection = ServerConnection::new();
        assert_eq!(
            connection.on_stream(StreamKind::Control.byte(), true),
            Ok(StreamKind::Control)
        );
        let outcome = connection.on_control(hello(token, "s-a"), &authorizer());
        assert!(
            matches!(outcome, Ok(ControlOutcome::Welcomed(_))),
            "{outcome:?}"
        );
        connection
    }

    fn code<T: std::fmt::Debug>(result: Result<T, ProtocolError>) -> ErrorCode {
        result.expect_err("expected a protocol error").code
    }

    #[test]
    fn a_valid_hello_authenticates_with_the_tokens_grant() {
        let connection = connected("tech-a");
        assert_eq!(connection.grant(), Some(&grant("s-a", Role::Technician)));
    }

    #[test]
    fn bad_tokens_are_refused_with_their_documented_codes() {
        let cases = [
            (hello("nope", "s-a"), ErrorCode::TokenInvalid),
            (hello("old", "s-a"), ErrorCode::TokenExpired),
            (hello("caller-a", "s-b"), ErrorCode::WrongSession),
            (hello("", "s-a"), ErrorCode::TokenInvalid),
            (hello(&"t".repeat(3000), "s-a"), ErrorCode::TooLarge),
        ];
        for (message, expected) in cases {
            let mut connection = ServerConnection::new();
            connection
                .on_stream(StreamKind::Control.byte(), true)
                .unwrap();
            assert_eq!(
                code(connection.on_control(message, &authorizer())),
                expected
            );
            assert_eq!(connection.grant(), None);
        }
    }

    #[test]
    fn nothing_but_the_control_stream_and_hello_comes_before_the_hello() {
        let auth = authorizer();
        let mut connection = ServerConnection::new();
        assert_eq!(
            code(connection.on_datagram(Some(StreamKind::VideoFrame.byte()))),
            ErrorCode::HelloRequired
        );
        assert_eq!(
            code(connection.on_stream(StreamKind::VideoFrame.byte(), false)),
            ErrorCode::HelloRequired
        );
        assert_eq!(
            code(connection.on_stream(StreamKind::PhotoUpload.byte(), true)),
            ErrorCode::HelloRequired
        );
        connection
            .on_stream(StreamKind::Control.byte(), true)
            .unwrap();
        assert_eq!(
            code(connection.on_control(guide_step(), &auth)),
            ErrorCode::HelloRequired
        );
    }

    #[test]
    fn unknown_and_misplaced_stream_kinds_are_refused() {
        let mut connection = connected("caller-a");
        assert_eq!(
            code(connection.on_stream(9, false)),
            ErrorCode::UnknownStreamKind
        );
        assert_eq!(
            code(connection.on_stream(StreamKind::VideoFrame.byte(), true)),
            ErrorCode::UnknownStreamKind
        );
        assert_eq!(
            code(connection.on_stream(StreamKind::PhotoUpload.byte(), false)),
            ErrorCode::UnknownStreamKind
        );
        assert_eq!(
            code(connection.on_stream(StreamKind::Control.byte(), true)),
            ErrorCode::UnexpectedMessage
        );
        assert_eq!(
            code(connection.on_datagram(Some(1))),
            ErrorCode::UnknownStreamKind
        );
        assert_eq!(code(connection.on_datagram(None)), ErrorCode::Malformed);
        assert_eq!(
            connection.on_stream(StreamKind::PhotoUpload.byte(), true),
            Ok(StreamKind::PhotoUpload)
        );
        assert_eq!(
            connection.on_stream(StreamKind::VideoFrame.byte(), false),
            Ok(StreamKind::VideoFrame)
        );
    }

    #[test]
    fn only_technicians_push_steps_and_annotate() {
        let auth = authorizer();
        let mut caller = connected("caller-a");
        assert_eq!(
            code(caller.on_control(guide_step(), &auth)),
            ErrorCode::NotPermitted
        );

        let mut technician = connected("tech-a");
        assert_eq!(
            technician.on_control(guide_step(), &auth),
            Ok(ControlOutcome::Relay(guide_step()))
        );
        assert_eq!(
            code(technician.on_control(hello("tech-a", "s-a"), &auth)),
            ErrorCode::UnexpectedMessage
        );
    }

    #[test]
    fn annotations_are_checked_point_by_point() {
        let auth = authorizer();
        let annotation = |kind: MediaAnnotationKind, points: &[(f32, f32)]| {
            control(Body::Annotation(MediaAnnotation {
                annotation_id: "a1".into(),
                kind: kind as i32,
                points: points.iter().map(|&(x, y)| MediaPoint { x, y }).collect(),
                ..Default::default()
            }))
        };
        let mut technician = connected("tech-a");
        let arrow = annotation(MediaAnnotationKind::Arrow, &[(0.1, 0.2), (0.5, 0.5)]);
        assert_eq!(
            technician.on_control(arrow.clone(), &auth),
            Ok(ControlOutcome::Relay(arrow))
        );
        for bad in [
            annotation(MediaAnnotationKind::Arrow, &[(0.1, 0.2)]),
            annotation(MediaAnnotationKind::Point, &[(1.5, 0.2)]),
            annotation(MediaAnnotationKind::Point, &[(f32::NAN, 0.2)]),
            annotation(MediaAnnotationKind::Clear, &[(0.1, 0.2)]),
            annotation(MediaAnnotationKind::Unspecified, &[]),
        ] {
            assert_eq!(
                code(technician.on_control(bad, &auth)),
                ErrorCode::Malformed
            );
        }
        let too_many = vec![(0.5, 0.5); 300];
        assert_eq!(
            code(
                technician.on_control(annotation(MediaAnnotationKind::Freehand, &too_many), &auth)
            ),
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn bye_closes_and_nothing_is_accepted_after_it() {
        let auth = authorizer();
        let mut caller = connected("caller-a");
        let bye = control(Body::Bye(MediaBye {
            reason: "done".into(),
        }));
        assert_eq!(
            caller.on_control(bye, &auth),
            Ok(ControlOutcome::Bye("done".into()))
        );
        assert_eq!(
            code(caller.on_stream(StreamKind::PhotoUpload.byte(), true)),
            ErrorCode::UnexpectedMessage
        );
    }

    #[test]
    fn an_empty_control_message_is_malformed() {
        let mut connection = ServerConnection::new();
        connection
            .on_stream(StreamKind::Control.byte(), true)
            .unwrap();
        let empty = MediaControl { body: None };
        assert_eq!(
            code(connection.on_control(empty, &authorizer())),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn the_hub_sends_neither_hellos_nor_byes() {
        assert_eq!(check_from_hub(&guide_step()), Ok(()));
        let bye = control(Body::Bye(MediaBye::default()));
        assert_eq!(code(check_from_hub(&bye)), ErrorCode::UnexpectedMessage);
        assert_eq!(
            code(check_from_hub(&hello("t", "s"))),
            ErrorCode::UnexpectedMessage
        );
    }

    #[test]
    fn the_client_wants_a_welcome_first_and_only_once() {
        let welcome = control(Body::Welcome(MediaWelcome {
            session_id: "s-a".into(),
            role: Role::Caller.to_wire() as i32,
            participant_id: "c".into(),
            ..Default::default()
        }));
        let mut client = ClientConnection::new();
        assert_eq!(
            code(client.on_control(&guide_step())),
            ErrorCode::UnexpectedMessage
        );
        client.on_control(&welcome).unwrap();
        assert_eq!(client.welcome().unwrap().session_id, "s-a");
        client.on_control(&guide_step()).unwrap();
        assert_eq!(
            code(client.on_control(&welcome)),
            ErrorCode::UnexpectedMessage
        );
        assert_eq!(
            client.on_stream(StreamKind::VideoFrame.byte(), false),
            Ok(StreamKind::VideoFrame)
        );
        assert_eq!(
            code(client.on_stream(StreamKind::PhotoUpload.byte(), true)),
            ErrorCode::UnknownStreamKind
        );
    }
}
