//! Just enough X.509 DER reading for renewal: serial number and validity of a certificate.
//! A full parser (x509-parser) would add a dozen crates for two fields.

use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number, big-endian bytes as encoded.
    pub serial: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
}

impl CertInfo {
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }
}

/// One tag-length-value: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn take(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, content, rest) = tlv(input)?;
    (tag == want).then_some((content, rest))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = take(der, SEQUENCE)?;
    let (tbs, _) = take(cert, SEQUENCE)?;
    let mut rest = tbs;
    if let Some((VERSION, _, after)) = tlv(rest) {
        rest = after;
    }
    let (serial, rest) = take(rest, INTEGER)?;
    let (_signature, rest) = take(rest, SEQUENCE)?;
    let (_issuer, rest) = take(rest, SEQUENCE)?;
    let (validity, _) = take(rest, SEQUENCE)?;
    let (t1, nb, rest) = tlv(validity)?;
    let (t2, na, _) = tlv(rest)?;
    Some(CertInfo {
        serial: serial.to_vec(),
        not_before: time(t1, nb)?,
        not_after: time(t2, na)?,
    })
}

fn time(tag: u8, bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        UTC_TIME => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            // RFC 5280: two-digit years 50–99 are 19xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        GENERALIZED_TIME => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(year, num(0..2)?, num(2..4)?)?;
    let dt = date.and_hms_opt(num(4..6)?, num(6..8)?, num(8..10)?)?;
    Some(dt.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rcgen_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["example.test".to_string()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2030, 1, 2);
        params.not_after = rcgen::date_time_ymd(2060, 3, 4);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x12, 0x34]));
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let info = cert_info(cert.der()).expect("info");
        assert_eq!(info.serial_hex(), "1234");
        assert_eq!(info.not_before, 1_893_542_400);
        // 2060 needs GeneralizedTime.
        assert_eq!(info.not_after, 2_845_584_000);
    }

    #[test]
    fn rejects_garbage() {
        assert!(cert_info(b"").is_none());
        assert!(cert_info(&[0x30, 0x82, 0xff]).is_none());
        assert!(cert_info(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_none());
    }
}
