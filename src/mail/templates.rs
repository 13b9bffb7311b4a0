//! The messages: plain text and HTML, links built from `APP_PROTOCOL` + `APP_DOMAIN`.

use crate::text::escape_html as escape;

use super::Email;

fn greeting(name: &str, username: &str) -> String {
    if name.trim().is_empty() {
        username.to_owned()
    } else {
        name.to_owned()
    }
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.5\">{body}\
         <p style=\"color:#666\">— The Vibecoding Community</p></body></html>",
        escape(title)
    )
}

pub fn welcome(to: &str, name: &str, username: &str, origin: &str) -> Email {
    let who = greeting(name, username);
    let profile = format!("{origin}/{username}");
    Email {
        to: to.to_owned(),
        subject: "Welcome to the Vibecoding Community".to_owned(),
        text: format!(
            "Hi {who},\n\nWelcome to the Vibecoding Community! Your profile is at {profile}.\n\
             Write your first article, follow the tags you care about, and say hello.\n\n\
             — The Vibecoding Community\n"
        ),
        html: html_page(
            "Welcome",
            &format!(
                "<p>Hi {},</p><p>Welcome to the Vibecoding Community! Your profile is at \
                 <a href=\"{}\">{}</a>.</p><p>Write your first article, follow the tags you \
                 care about, and say hello.</p>",
                escape(&who),
                escape(&profile),
                escape(&profile)
            ),
        ),
        template: "welcome",
        unsubscribe: None,
    }
}

pub fn confirmation(to: &str, name: &str, username: &str, origin: &str, token: &str) -> Email {
    let who = greeting(name, username);
    let link = format!("{origin}/confirm-email?token={token}");
    Email {
        to: to.to_owned(),
        subject: "Confirm your email address".to_owned(),
        text: format!(
            "Hi {who},\n\nConfirm this email address for your Vibecoding Community account:\n\
             {link}\n\nThe link works once. If you did not ask for it, ignore this message.\n"
        ),
        html: html_page(
            "Confirm your email address",
            &format!(
                "<p>Hi {},</p><p>Confirm this email address for your Vibecoding Community \
                 account:</p><p><a href=\"{}\">Confirm my email</a></p><p>The link works once. \
                 If you did not ask for it, ignore this message.</p>",
                escape(&who),
                escape(&link)
            ),
        ),
        template: "confirmation",
        unsubscribe: None,
    }
}

pub fn password_reset(to: &str, name: &str, username: &str, origin: &str, token: &str) -> Email {
    let who = greeting(name, username);
    let link = format!("{origin}/reset-password?token={token}");
    Email {
        to: to.to_owned(),
        subject: "Reset your password".to_owned(),
        text: format!(
            "Hi {who},\n\nSomeone asked to reset the password of your Vibecoding Community \
             account. To choose a new one, open this link within 2 hours:\n{link}\n\n\
             If it was not you, ignore this message: your password stays as it is.\n"
        ),
        html: html_page(
            "Reset your password",
            &format!(
                "<p>Hi {},</p><p>Someone asked to reset the password of your Vibecoding \
                 Community account. To choose a new one, open this link within 2 hours:</p>\
                 <p><a href=\"{}\">Reset my password</a></p><p>If it was not you, ignore this \
                 message: your password stays as it is.</p>",
                escape(&who),
                escape(&link)
            ),
        ),
        template: "password_reset",
        unsubscribe: None,
    }
}

pub fn identity_linked(
    to: &str,
    name: &str,
    username: &str,
    provider: &str,
    login: &str,
    origin: &str,
) -> Email {
    let who = greeting(name, username);
    let provider = match provider {
        "github" => "GitHub",
        other => other,
    };
    Email {
        to: to.to_owned(),
        subject: format!("{provider} can now sign you in"),
        text: format!(
            "Hi {who},\n\nThe {provider} account {login} was linked to your Vibecoding Community \
             account: it can now sign you in. If you did not do this, unlink it in your settings \
             ({origin}) and reset your password.\n"
        ),
        html: html_page(
            "A sign-in was linked",
            &format!(
                "<p>Hi {},</p><p>The {} account <strong>{}</strong> was linked to your \
                 Vibecoding Community account: it can now sign you in.</p><p>If you did not do \
                 this, unlink it in your settings (<a href=\"{}\">{}</a>) and reset your \
                 password.</p>",
                escape(&who),
                escape(provider),
                escape(login),
                escape(origin),
                escape(origin)
            ),
        ),
        template: "identity_linked",
        unsubscribe: None,
    }
}

pub fn data_export_ready(
    to: &str,
    name: &str,
    username: &str,
    link: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Email {
    let who = greeting(name, username);
    let until = expires_at.format("%B %-d, %Y at %H:%M UTC");
    Email {
        to: to.to_owned(),
        subject: "Your data export is ready".to_owned(),
        text: format!(
            "Hi {who},\n\nThe export of your Vibecoding Community data you asked for is ready. \
             Download it here until {until}; it is deleted after that:\n{link}\n\n\
             If you did not ask for it, change your password: whoever did can read this link too.\n"
        ),
        html: html_page(
            "Your data export is ready",
            &format!(
                "<p>Hi {},</p><p>The export of your Vibecoding Community data you asked for is \
                 ready. Download it until {}; it is deleted after that:</p>\
                 <p><a href=\"{}\">Download my data</a></p><p>If you did not ask for it, change \
                 your password.</p>",
                escape(&who),
                escape(&until.to_string()),
                escape(link)
            ),
        ),
        template: "data_export_ready",
        unsubscribe: None,
    }
}

pub fn webhook_disabled(to: &str, name: &str, username: &str, url: &str, reason: &str) -> Email {
    let who = greeting(name, username);
    Email {
        to: to.to_owned(),
        subject: "A webhook of yours was disabled".to_owned(),
        text: format!(
            "Hi {who},\n\nYour webhook for {url} was disabled: {reason}.\n\
             Its deliveries are kept; fix the receiver, then turn the webhook on again \
             (updateWebhook with active: true) and redeliver what it missed.\n"
        ),
        html: html_page(
            "A webhook of yours was disabled",
            &format!(
                "<p>Hi {},</p><p>Your webhook for <code>{}</code> was disabled: {}.</p>\
                 <p>Its deliveries are kept; fix the receiver, then turn the webhook on again \
                 (<code>updateWebhook</code> with <code>active: true</code>) and redeliver \
                 what it missed.</p>",
                escape(&who),
                escape(url),
                escape(reason)
            ),
        ),
        template: "webhook_disabled",
        unsubscribe: None,
    }
}

/// One line of a notification or digest message.
pub struct Notice {
    pub what: String,
    pub excerpt: String,
    pub url: String,
}

fn notices_text(items: &[Notice]) -> String {
    items
        .iter()
        .map(|n| {
            let excerpt = if n.excerpt.is_empty() {
                String::new()
            } else {
                format!("\n  {}", n.excerpt.replace('\n', " "))
            };
            format!("- {}{excerpt}\n  {}\n", n.what, n.url)
        })
        .collect()
}

fn notices_html(items: &[Notice]) -> String {
    let lines: String = items
        .iter()
        .map(|n| {
            let excerpt = if n.excerpt.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><span style=\"color:#555\">{}</span>",
                    escape(&n.excerpt)
                )
            };
            format!(
                "<li><a href=\"{}\">{}</a>{excerpt}</li>",
                escape(&n.url),
                escape(&n.what)
            )
        })
        .collect();
    format!("<ul>{lines}</ul>")
}

/// Where a message's footer links: one-click unsubscribe, and the settings page.
pub struct Links<'a> {
    pub unsubscribe: &'a str,
    pub settings: &'a str,
}

fn footer_text(links: &Links<'_>, what: &str) -> String {
    format!(
        "\nYou get this because of your notification settings ({}). To stop {what}, open \
         {}\n",
        links.settings, links.unsubscribe
    )
}

fn footer_html(links: &Links<'_>, what: &str) -> String {
    format!(
        "<p style=\"color:#666;font-size:small\">You get this because of your \
         <a href=\"{}\">notification settings</a>. <a href=\"{}\">Stop {}</a>.</p>",
        escape(links.settings),
        escape(links.unsubscribe),
        escape(what)
    )
}

/// Notifications a member has not read in the app, in one message.
pub fn notifications(
    to: &str,
    name: &str,
    username: &str,
    items: &[Notice],
    links: &Links<'_>,
) -> Email {
    let who = greeting(name, username);
    let subject = match items {
        [one] => one.what.clone(),
        _ => format!("{} new comments, replies and mentions", items.len()),
    };
    let what = "these emails";
    Email {
        to: to.to_owned(),
        subject: subject.clone(),
        text: format!(
            "Hi {who},\n\n{}{}",
            notices_text(items),
            footer_text(links, what)
        ),
        html: html_page(
            &subject,
            &format!(
                "<p>Hi {},</p>{}{}",
                escape(&who),
                notices_html(items),
                footer_html(links, what)
            ),
        ),
        template: "notifications",
        unsubscribe: Some(links.unsubscribe.to_owned()),
    }
}

/// The weekly digest: top articles in what the member follows.
pub fn digest(to: &str, name: &str, username: &str, items: &[Notice], links: &Links<'_>) -> Email {
    let who = greeting(name, username);
    let subject = "Your week on the Vibecoding Community".to_owned();
    let what = "the weekly digest";
    Email {
        to: to.to_owned(),
        subject: subject.clone(),
        text: format!(
            "Hi {who},\n\nThe week's top articles from the people and tags you follow:\n\n{}{}",
            notices_text(items),
            footer_text(links, what)
        ),
        html: html_page(
            &subject,
            &format!(
                "<p>Hi {},</p><p>The week's top articles from the people and tags you follow:</p>{}{}",
                escape(&who),
                notices_html(items),
                footer_html(links, what)
            ),
        ),
        template: "digest",
        unsubscribe: Some(links.unsubscribe.to_owned()),
    }
}
