//! Photo quality checks on OpenCV: encoded image bytes and a check profile in, an accept/retake report out.
