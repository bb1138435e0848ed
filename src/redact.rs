//! Secrets out of everything forkcast records: passwords in URLs and DSNs, `--password VALUE`
//! style arguments, and `*PASSWORD*`, `*TOKEN*`, `*SECRET*` assignments become `***`.
//!
//! Applied once, where the runner records a command line (run/mod.rs: the command, the params,
//! each point's argv, the sampler's cmdlines), so every exporter gets redacted data while the
//! target still executes its real argv.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// A name whose value is a secret: `PGPASSWORD`, `--db-password`, `passwd`, `pwd`,
/// `client_secret`, `GITHUB_TOKEN`, `access-token`, `api-key`. Token is matched at the end of a
/// word so `--tokenizer` stays readable.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.trim_start_matches('-').to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['-', '_', '.']).collect();
    lower.contains("password")
        || lower.contains("passwd")
        || lower.contains("secret")
        || words
            .iter()
            .any(|w| w.ends_with("token") || *w == "pwd" || *w == "apikey")
        || words.windows(2).any(|w| w == ["api", "key"])
}

/// An environment value as it may be recorded: masked when its name says it is a secret.
pub fn env_value(name: &str, value: &str) -> String {
    if is_secret_name(name) {
        MASK.to_string()
    } else {
        value.to_string()
    }
}

/// A command line with its secrets masked. Besides what `text` masks in each argument, the
/// argument after a bare secret flag (`--password hunter2`) is masked whole.
pub fn argv(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for a in args {
        if mask_next {
            out.push(MASK.to_string());
            mask_next = false;
            continue;
        }
        mask_next = a.starts_with('-') && !a.contains('=') && is_secret_name(a);
        out.push(text(a));
    }
    out
}

/// One string (an argument, a `--shell` command, a param value) with its secrets masked:
/// the password of every `scheme://user:password@host`, and the value of every
/// `NAME=value` whose name is a secret's (`password=x` in a libpq DSN, `?password=x&` in a URL,
/// `Password=x;` in an ODBC string, `PGPASSWORD=x` before a command, `--password=x`).
pub fn text(s: &str) -> String {
    mask_flag_values(&mask_assignments(&mask_url_passwords(s)))
}

/// In one string holding a whole command (`--shell`), the word after a bare secret flag.
fn mask_flag_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut mask_next = false;
    for piece in s.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        if word.is_empty() {
            out.push_str(piece);
            continue;
        }
        if mask_next {
            out.push_str(MASK);
            out.push_str(&piece[word.len()..]);
        } else {
            out.push_str(piece);
        }
        mask_next =
            !mask_next && word.starts_with('-') && !word.contains('=') && is_secret_name(word);
    }
    out
}

fn mask_url_passwords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '\'' || c == '"'
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|c| (c, at)))
        {
            Some((colon, at)) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn mask_assignments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let before = &rest[..eq];
        let name_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let name = &before[name_start..];
        out.push_str(&rest[..=eq]);
        let after = &rest[eq + 1..];
        if name.is_empty() || !is_secret_name(name) {
            rest = after;
            continue;
        }
        let quote = after.chars().next().filter(|c| matches!(c, '\'' | '"'));
        let end = match quote {
            Some(q) => after[1..].find(q).map_or(after.len(), |i| i + 2),
            None => after
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | ',' | '\'' | '"'))
                .unwrap_or(after.len()),
        };
        out.push_str(MASK);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        assert_eq!(
            text("postgresql://app:hunter2@localhost/db"),
            "postgresql://app:***@localhost/db"
        );
        assert_eq!(
            text("--dsn=mysql://u:p%40ss@h:3306"),
            "--dsn=mysql://u:***@h:3306"
        );
        assert_eq!(
            text("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(text("http://user@host/x"), "http://user@host/x");
        assert_eq!(
            text("https://example.com/a?b=c"),
            "https://example.com/a?b=c"
        );
        assert_eq!(
            text("psql 'postgres://a:b@h/d' -c 'select 1'"),
            "psql 'postgres://a:***@h/d' -c 'select 1'"
        );
    }

    #[test]
    fn secret_assignments_are_masked() {
        assert_eq!(
            text("host=/tmp dbname=x password=hunter2 user=app"),
            "host=/tmp dbname=x password=*** user=app"
        );
        assert_eq!(text("password='hunter 2' port=5"), "password=*** port=5");
        assert_eq!(
            text("postgres://h/db?sslmode=off&password=hunter2&x=1"),
            "postgres://h/db?sslmode=off&password=***&x=1"
        );
        assert_eq!(text("Server=h;Pwd=hunter2;Uid=a"), "Server=h;Pwd=***;Uid=a");
        assert_eq!(text("PGPASSWORD=hunter2 psql"), "PGPASSWORD=*** psql");
        assert_eq!(text("--password=hunter2"), "--password=***");
        assert_eq!(text("GITHUB_TOKEN=ghp_x"), "GITHUB_TOKEN=***");
        assert_eq!(text("--tokenizer=bert --n=4"), "--tokenizer=bert --n=4");
        assert_eq!(text("a==b"), "a==b");
        assert_eq!(
            text("app --password  hunter2 -n 4"),
            "app --password  *** -n 4"
        );
    }

    #[test]
    fn the_argument_after_a_secret_flag_is_masked() {
        assert_eq!(
            argv(&strings(&[
                "app",
                "--password",
                "hunter2",
                "--workers",
                "4"
            ])),
            strings(&["app", "--password", "***", "--workers", "4"])
        );
        assert_eq!(
            argv(&strings(&["app", "--api-key", "k", "x"])),
            strings(&["app", "--api-key", "***", "x"])
        );
        assert_eq!(
            argv(&strings(&["app", "--password"])),
            strings(&["app", "--password"])
        );
    }

    #[test]
    fn environment_values_are_masked_by_name() {
        assert_eq!(env_value("PGPASSWORD", "hunter2"), MASK);
        assert_eq!(env_value("MY_SECRET_KEY", "s"), MASK);
        assert_eq!(env_value("CI_JOB_TOKEN", "t"), MASK);
        assert_eq!(env_value("HOME", "/root"), "/root");
    }
}
