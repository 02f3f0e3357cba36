//! Request bodies as fields of bytes: `application/x-www-form-urlencoded` and
//! `multipart/form-data`, whichever a provider sends.
//!
//! The raw message travels in a form field, and it is not always UTF-8 (a Latin-1 or
//! broken message is still a customer's mail), so values are decoded to bytes and never
//! through a lossy string; a field is read as text only where the contract says it is.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// The fields of a form, in the order they came, values as bytes.
#[derive(Debug, Default)]
pub struct Form {
    fields: Vec<(String, Vec<u8>)>,
}

impl Form {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`, taken out (a message is not copied).
    pub fn take(&mut self, name: &str) -> Option<Vec<u8>> {
        let i = self.fields.iter().position(|(n, _)| n == name)?;
        Some(std::mem::take(&mut self.fields[i].1))
    }

    /// The first value of `name` as text; `Err` names a field that is not UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<&str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| format!("field {name:?} is not UTF-8")),
        }
    }

    /// Every field, in order.
    pub fn fields(&self) -> &[(String, Vec<u8>)] {
        &self.fields
    }
}

/// The media type of a request (`type/subtype`, lowercase, without parameters).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    Some(essence).filter(|e| !e.is_empty())
}

/// Parses a urlencoded or multipart body; `Err` says why it is not a form.
pub async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Form, String> {
    match media_type(headers).as_deref() {
        Some("application/x-www-form-urlencoded") => Ok(Form {
            fields: urlencoded(&body),
        }),
        Some("multipart/form-data") => multipart(headers, body).await,
        Some(other) => Err(format!(
            "Content-Type {other:?} is not a form (urlencoded or multipart)"
        )),
        None => Err("no Content-Type: expected a form (urlencoded or multipart)".into()),
    }
}

/// `a=1&b=%FF+x`: every pair, `+` as space, `%XX` as the byte (a bad escape is kept as is).
pub fn urlencoded(input: &[u8]) -> Vec<(String, Vec<u8>)> {
    input
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            (
                String::from_utf8_lossy(&percent_decode(name)).into_owned(),
                percent_decode(value),
            )
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

async fn multipart(headers: &HeaderMap, body: Bytes) -> Result<Form, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| format!("multipart without a usable boundary: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        match parts.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let value = field
                    .bytes()
                    .await
                    .map_err(|e| format!("multipart field {name:?} is broken: {e}"))?;
                fields.push((name, value.to_vec()));
            }
            Ok(None) => break,
            Err(e) => return Err(format!("multipart body is broken: {e}")),
        }
    }
    Ok(Form { fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_values_are_bytes() {
        let f = urlencoded(b"a=1&body-mime=%FF%0D%0Ax+y&empty=&flag&bad=%G1%");
        assert_eq!(
            f,
            vec![
                ("a".to_string(), b"1".to_vec()),
                ("body-mime".to_string(), b"\xff\r\nx y".to_vec()),
                ("empty".to_string(), vec![]),
                ("flag".to_string(), vec![]),
                ("bad".to_string(), b"%G1%".to_vec()),
            ]
        );
    }
}
