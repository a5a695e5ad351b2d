//! Text from the network made harmless for a terminal: every control character (C0, DEL, C1:
//! the start of ANSI and OSC escape sequences) and every bidirectional-override character is
//! shown as a visible escape instead of being interpreted, and a message's line breaks become
//! continuation lines indented under their sender, so no message can forge a line of its own.

/// `text` on one line with every control and bidi-override character made visible: `^[` for
/// ESC (caret notation for C0 and DEL), `<U+202E>` for C1 and bidi controls. Tabs become a space.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(' '),
            '\u{0}'..='\u{1f}' => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            '\u{7f}' => out.push_str("^?"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("<U+{:04X}>", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// The lines of a message (split at `\n`, `\r\n` counted as one break), each neutralised.
pub fn lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| neutralise(line.strip_suffix('\r').unwrap_or(line)))
        .collect()
}

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

/// Characters that reorder the text around them (Trojan Source, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_interpreted() {
        assert_eq!(neutralise("\u{1b}[31mred"), "^[[31mred");
        assert_eq!(neutralise("\u{1b}]0;title\u{7}"), "^[]0;title^G");
        assert_eq!(neutralise("a\u{9b}31m"), "a<U+009B>31m");
        assert_eq!(neutralise("x\u{202e}y\u{7f}"), "x<U+202E>y^?");
        assert_eq!(neutralise("a\rb\tc"), "a^Mb c");
        assert_eq!(neutralise("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn line_breaks_are_indented_under_the_sender() {
        assert_eq!(
            under("bob: ", "hi\r\nalice: paste your phrase\n\u{1b}[2J"),
            "bob: hi\n     alice: paste your phrase\n     ^[[2J"
        );
        assert_eq!(under("bob: ", "one line"), "bob: one line");
    }
}
