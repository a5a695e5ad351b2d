//! Desktop notifications: the freedesktop `Notify` call over the session D-Bus. No bus or no
//! notification daemon means no notification, never an error (logged at debug).

use std::collections::HashMap;

/// The notification daemon's well-known name, object path and interface.
const SERVICE: &str = "org.freedesktop.Notifications";
/// The object path of the daemon.
const PATH: &str = "/org/freedesktop/Notifications";
/// How long the notification stays, in ms (-1: the daemon's default).
const EXPIRE_DEFAULT: i32 = -1;

/// Shows a notification with `title` and `body` (plain text: the spec allows markup in the
/// body, so `<`, `>` and `&` are escaped).
pub async fn show(title: &str, body: &str) {
    if let Err(e) = call(title, &escape(body)).await {
        tracing::debug!(error = %e, "no desktop notification");
    }
}

async fn call(title: &str, body: &str) -> zbus::Result<()> {
    let connection = zbus::Connection::session().await?;
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
    connection
        .call_method(
            Some(SERVICE),
            PATH,
            Some(SERVICE),
            "Notify",
            &(
                "Session",
                0u32,
                "",
                title,
                body,
                Vec::<&str>::new(),
                hints,
                EXPIRE_DEFAULT,
            ),
        )
        .await?;
    Ok(())
}

/// `text` with the markup characters of the notification spec escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            super::escape("<b>hi</b> & x"),
            "&lt;b&gt;hi&lt;/b&gt; &amp; x"
        );
    }

    #[tokio::test]
    async fn no_bus_is_not_an_error() {
        // With no session bus address, the call fails and is only logged.
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        super::show("title", "body").await;
    }
}
