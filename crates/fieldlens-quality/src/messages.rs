//! The sentence shown to the caller for each reason, in English and Simplified Chinese.
//!
//! One plain sentence each, saying what is wrong and what to do, for someone holding a phone.

use crate::report::Reason;

/// `(English, Chinese)` for a reason and its subtype (empty when none).
pub(crate) fn sentence(reason: Reason, subtype: &str) -> (&'static str, &'static str) {
    match (reason, subtype) {
        (Reason::Blur, "motion") => (
            "The photo is blurred by movement; hold the phone still and take it again.",
            "照片因晃动而模糊，请拿稳手机重新拍摄。",
        ),
        (Reason::Blur, _) => (
            "The photo is out of focus; tap the subject on the screen to focus and take it again.",
            "照片没有对上焦，请点击屏幕上的拍摄对象对焦后重新拍摄。",
        ),
        (Reason::Underexposed, _) => (
            "The photo is too dark; turn on a light or move somewhere brighter and take it again.",
            "照片太暗，请打开灯光或移到更亮的地方重新拍摄。",
        ),
        (Reason::Overexposed, _) => (
            "The photo is too bright and details are washed out; move out of direct light and take it again.",
            "照片过亮，细节看不清，请避开强光后重新拍摄。",
        ),
        (Reason::Glare, _) => (
            "A bright reflection covers part of the subject; change your angle a little and take it again.",
            "强烈的反光遮住了部分拍摄对象，请稍微换个角度重新拍摄。",
        ),
        (Reason::Noise, _) => (
            "The photo is grainy; add more light and take it again.",
            "照片噪点太多，请增加光线后重新拍摄。",
        ),
        (Reason::LowResolution, _) => (
            "The photo is too small to show detail; take it again with the camera at full resolution.",
            "照片分辨率太低，看不清细节，请用相机的全分辨率重新拍摄。",
        ),
        (Reason::Tilted, _) => (
            "The photo is tilted; hold the phone level and take it again.",
            "照片是歪的，请把手机端平后重新拍摄。",
        ),
        (Reason::Framing, "too_close") => (
            "You are too close; step back so the whole subject fits in the frame.",
            "距离太近，请后退一些，让整个拍摄对象都在画面内。",
        ),
        (Reason::Framing, "too_far") => (
            "The subject is too small; move closer so it fills more of the frame.",
            "拍摄对象太小，请走近一些，让它占据更多画面。",
        ),
        (Reason::Framing, "off_target") => (
            "The subject is not where the guide shows; line it up with the outline and take it again.",
            "拍摄对象不在指引框的位置，请对准轮廓后重新拍摄。",
        ),
        (Reason::Framing, _) => (
            "Part of the subject is cut off; move so all of it is inside the frame.",
            "拍摄对象有一部分在画面外，请调整位置让它完整地出现在画面内。",
        ),
        (Reason::Recapture, "print") => (
            "This looks like a photo of a printout; please photograph the real item instead.",
            "这看起来是翻拍的打印件，请直接拍摄实物。",
        ),
        (Reason::Recapture, _) => (
            "This looks like a photo of a screen; please photograph the real item instead.",
            "这看起来是翻拍的屏幕，请直接拍摄实物。",
        ),
        (Reason::Duplicate, _) => (
            "This photo is the same as one you already sent; please take a new one as the guide asks.",
            "这张照片与您已发送的照片相同，请按指引重新拍摄一张。",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_one_sentence_in_each_language() {
        for reason in Reason::ALL {
            let (en, zh) = sentence(reason, "");
            assert!(en.ends_with('.') && !en.is_empty(), "{reason}: {en}");
            assert!(zh.ends_with('。'), "{reason}: {zh}");
            assert_eq!(en.matches(". ").count(), 0, "one sentence: {en}");
        }
    }
}
