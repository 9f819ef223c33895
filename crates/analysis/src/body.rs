//! Text and HTML bodies. (Stub: filled in by the bodies work.)

use crate::walk::Walk;

/// One text part to analyse.
#[derive(Debug)]
pub(crate) struct BodyInput<'a> {
    /// Location prefix for findings and URL sources (`bodies[N]` is appended by `analyze`).
    pub part: String,
    pub content_type: String,
    pub charset: Option<String>,
    pub text: &'a str,
    pub html: bool,
}

/// Analyses one body part, pushes its `BodyPart` into the report and returns its visible text.
pub(crate) fn analyze(walk: &mut Walk<'_>, input: &BodyInput<'_>) -> String {
    let index = walk.report.bodies.len();
    walk.report.bodies.push(model::report::BodyPart {
        part: input.part.clone(),
        content_type: input.content_type.clone(),
        charset: input.charset.clone(),
        chars: input.text.chars().count() as u64,
        ..Default::default()
    });
    crate::urls::from_text(walk, input.text, &format!("bodies[{index}]"));
    input.text.to_string()
}
