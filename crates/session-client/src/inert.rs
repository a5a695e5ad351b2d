//! Text from the network made harmless to show: every control character (C0, DEL, C1: the
//! start of ANSI and OSC escape sequences) and every bidirectional-override character is shown
//! as a visible escape instead of being interpreted. Shared by the terminal and the window.

use session_crypto::AccountId;

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

/// The first line of a message, neutralised, at most 40 characters, quoted.
pub fn preview(text: &str) -> String {
    let first = lines(text).into_iter().next().unwrap_or_default();
    let more = text.contains('\n') || first.chars().count() > 40;
    let short: String = first.chars().take(40).collect();
    format!("\"{short}{}\"", if more { "…" } else { "" })
}

/// A display name someone sent, shown quoted, on one line, at most 64 characters.
pub fn shown_name(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    format!("\"{}\"", neutralise(&short).replace('"', "'"))
}

/// The first 8 and last 4 characters of an Account ID.
pub fn short_id(peer: &AccountId) -> String {
    let id = peer.to_string();
    format!("{}…{}", &id[..8], &id[id.len() - 4..])
}

/// `HH:MM:SS` (UTC) of a Unix millisecond time.
pub fn clock_time(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
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
    fn previews_are_one_short_line() {
        assert_eq!(preview("hi\nthere"), "\"hi…\"");
        assert_eq!(preview(&"a".repeat(41)), format!("\"{}…\"", "a".repeat(40)));
        assert_eq!(shown_name("a\"b\u{1b}"), "\"a'b^[\"");
        assert_eq!(clock_time(3_723_000), "01:02:03");
    }
}
