//! Text from the network made harmless for a terminal (the escaping itself is
//! [`session_client::inert`]): a message's line breaks become continuation lines indented under
//! their sender, so no message can forge a line of its own.

use session_client::inert::lines;

/// `prefix` then the message's lines, continuation lines indented to the width of `prefix`.
pub fn under(prefix: &str, text: &str) -> String {
    let indent = " ".repeat(prefix.chars().count());
    let mut out = String::from(prefix);
    for (i, line) in lines(text).iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&indent);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_are_indented_under_the_sender() {
        assert_eq!(
            under("bob: ", "hi\r\nalice: paste your phrase\n\u{1b}[2J"),
            "bob: hi\n     alice: paste your phrase\n     ^[[2J"
        );
        assert_eq!(under("bob: ", "one line"), "bob: one line");
    }
}
