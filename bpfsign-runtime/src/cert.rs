//! Reading a signing certificate without a crypto library: PEM to DER (standard base64), and the
//! subjectKeyIdentifier from the DER (a minimal TLV walk). The kernel parses the certificate
//! itself when it is registered; this only finds the bytes to hand over and the key id to name
//! in messages.

use std::borrow::Cow;

use crate::error::{Ctx, Error, Stage};

/// Returns the DER bytes of a certificate given as DER or PEM.
pub fn cert_to_der(cert: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    if cert.first() == Some(&0x30) {
        return Ok(Cow::Borrowed(cert));
    }
    let bad = |what: &str| {
        Error::other(
            Stage::Keyring,
            what.to_string(),
            "pass an X.509 certificate in DER or in PEM with a -----BEGIN CERTIFICATE----- block",
            &Ctx::default(),
        )
    };
    let text = std::str::from_utf8(cert)
        .map_err(|_| bad("the certificate is neither DER nor PEM text"))?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = text
        .find(BEGIN)
        .ok_or_else(|| bad("no CERTIFICATE block in the PEM text"))?
        + BEGIN.len();
    let len = text[start..]
        .find(END)
        .ok_or_else(|| bad("unterminated CERTIFICATE block"))?;
    let der = base64_decode(&text[start..start + len])
        .ok_or_else(|| bad("invalid base64 in the CERTIFICATE block"))?;
    if der.first() != Some(&0x30) {
        return Err(bad("the CERTIFICATE block does not hold a DER SEQUENCE"));
    }
    Ok(Cow::Owned(der))
}

/// Decodes standard base64, ignoring whitespace; `None` on any other invalid input.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut pad = 0usize;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None; // data after padding
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if pad > 2 || bits >= 6 {
        return None;
    }
    Some(out)
}

/// One DER TLV: (tag, content, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, b.get(end..)?))
}

/// The subjectKeyIdentifier of a DER X.509 certificate as lowercase hex (the id bpftool signs with).
pub fn cert_skid(der: &[u8]) -> Option<String> {
    let (_, cert, _) = der_tlv(der)?;
    let (_, tbs, _) = der_tlv(cert)?;
    let mut rest = tbs;
    while !rest.is_empty() {
        let (tag, content, next) = der_tlv(rest)?;
        rest = next;
        if tag != 0xa3 {
            continue;
        }
        let (_, exts, _) = der_tlv(content)?;
        let mut e = exts;
        while !e.is_empty() {
            let (_, ext, next) = der_tlv(e)?;
            e = next;
            let (_, oid, mut fields) = der_tlv(ext)?;
            if oid != [0x55, 0x1d, 0x0e] {
                continue;
            }
            let (mut tag, mut val, mut after) = der_tlv(fields)?;
            if tag == 0x01 {
                fields = after;
                (tag, val, after) = der_tlv(fields)?;
            }
            let _ = after;
            if tag != 0x04 {
                return None;
            }
            let (inner_tag, id, _) = der_tlv(val)?;
            if inner_tag != 0x04 {
                return None;
            }
            return Some(id.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGVsbA==").unwrap(), b"hell");
        assert!(base64_decode("aGV=sbG8").is_none());
        assert!(base64_decode("a").is_none());
    }
}
