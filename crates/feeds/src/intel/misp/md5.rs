//! MD5 of feed values, only for `hashes.csv`: MISP correlates feed values by the MD5 of their
//! text. Not used for anything that needs collision resistance.

use md5::{Digest, Md5};

/// The MD5 digest of `data` as 32 lower-case hex digits.
pub fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::md5_hex;

    /// The test suite of RFC 1321 appendix A.5, plus the line of the checked MISP example.
    #[test]
    fn rfc1321_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"a"), "0cc175b9c0f1b6a831c399e269772661");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"message digest"),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        assert_eq!(md5_hex(b"203.0.113.7"), "68fecd3b63b272e813f600f1a4885e0c");
    }
}
