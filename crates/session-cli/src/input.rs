//! Secrets typed by the user: never from the command line. From the terminal without echo, or
//! from stdin / the environment when there is no terminal (scripts, tests).

use std::io::{IsTerminal as _, Read as _};

use zeroize::Zeroizing;

use crate::commands::Result;

/// The environment variable a script can pass the passphrase in.
pub const PASSPHRASE_VAR: &str = "SESSION_PASSPHRASE";

/// The recovery phrase: a hidden prompt on a terminal, else all of stdin.
pub fn recovery_phrase() -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        return Ok(Zeroizing::new(rpassword::prompt_password(
            "Recovery phrase (25 or 13 words; not shown): ",
        )?));
    }
    let mut phrase = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut phrase)?;
    Ok(phrase)
}

/// Whether the passphrase comes from the environment (one try only then).
pub fn passphrase_from_env() -> bool {
    std::env::var_os(PASSPHRASE_VAR).is_some()
}

/// The passphrase of a protected account.
pub fn passphrase() -> Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(PASSPHRASE_VAR) {
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "the account is protected by a passphrase: run in a terminal or set {PASSPHRASE_VAR}"
        )
        .into());
    }
    Ok(Zeroizing::new(rpassword::prompt_password("Passphrase: ")?))
}

/// A new passphrase, asked twice on a terminal.
pub fn new_passphrase() -> Result<Zeroizing<String>> {
    let first = passphrase()?;
    if std::env::var(PASSPHRASE_VAR).is_err() {
        let again = Zeroizing::new(rpassword::prompt_password("Passphrase again: ")?);
        if *again != *first {
            return Err("the passphrases differ".into());
        }
    }
    if first.is_empty() {
        return Err("an empty passphrase protects nothing".into());
    }
    Ok(first)
}

/// Whether stdin is a terminal (a person can be asked).
pub fn is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks a yes/no question on the terminal; only `y` or `yes` is a yes.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write as _;
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
