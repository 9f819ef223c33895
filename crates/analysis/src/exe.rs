//! Native executables: the PE/COFF header read far enough to tell a DLL from an EXE, a .NET
//! assembly from native code, and to record machine, timestamp and section count. ELF and
//! Mach-O are only flagged (by kind, in `object.rs`).

use crate::walk::Walk;
use model::AnomalyKind;

/// Where DOS headers keep the offset of the PE header.
const E_LFANEW: usize = 0x3C;
/// `e_lfanew` beyond this is not a loader-accepted PE: Windows maps the headers from the first
/// pages, and real linkers put the PE header within the first few hundred bytes.
const MAX_PE_OFFSET: usize = 64 << 10;
/// `IMAGE_FILE_DLL`.
const CHARACTERISTIC_DLL: u16 = 0x2000;
/// Index of the CLR runtime header in the data directories: non-empty for .NET assemblies.
const CLR_DIRECTORY: usize = 14;

/// What the header says.
#[derive(Debug, Default)]
struct PeHeader {
    machine: u16,
    sections: u16,
    timestamp: u32,
    dll: bool,
    dotnet: bool,
    pe32_plus: bool,
}

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let Some(h) = parse(data) else {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            &at,
            "pe: MZ without a readable PE/COFF header",
        );
        return;
    };
    walk.finding(
        "pe.header",
        &at,
        format!(
            "machine={} sections={} timestamp={} format={}{}",
            machine_name(h.machine),
            h.sections,
            h.timestamp,
            if h.pe32_plus { "pe32+" } else { "pe32" },
            if h.dll { " dll" } else { " exe" },
        ),
    );
    if h.dll {
        walk.finding("pe.dll", &at, "IMAGE_FILE_DLL set");
    }
    if h.dotnet {
        walk.finding("pe.dotnet", &at, "CLR runtime header present");
    }
}

fn parse(data: &[u8]) -> Option<PeHeader> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    let pe = usize::try_from(u32_at(data, E_LFANEW)?).ok()?;
    if pe > MAX_PE_OFFSET || data.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let coff = pe + 4;
    let optional_size = usize::from(u16_at(data, coff + 16)?);
    let characteristics = u16_at(data, coff + 18)?;
    let mut h = PeHeader {
        machine: u16_at(data, coff)?,
        sections: u16_at(data, coff + 2)?,
        timestamp: u32_at(data, coff + 4)?,
        dll: characteristics & CHARACTERISTIC_DLL != 0,
        ..PeHeader::default()
    };
    let opt = coff + 20;
    // The optional header is absent in object files; then there is nothing more to read.
    let Some(magic) = u16_at(data, opt).filter(|_| optional_size >= 2) else {
        return Some(h);
    };
    let (count_at, dirs_at) = match magic {
        0x10b => (opt + 92, opt + 96),
        0x20b => {
            h.pe32_plus = true;
            (opt + 108, opt + 112)
        }
        _ => return Some(h),
    };
    let count = usize::try_from(u32_at(data, count_at).unwrap_or(0)).unwrap_or(0);
    let clr = dirs_at + CLR_DIRECTORY * 8;
    if count > CLR_DIRECTORY && clr + 8 <= opt + optional_size {
        h.dotnet = u32_at(data, clr).unwrap_or(0) != 0 && u32_at(data, clr + 4).unwrap_or(0) != 0;
    }
    Some(h)
}

fn machine_name(m: u16) -> String {
    match m {
        0x014c => "i386".to_string(),
        0x8664 => "amd64".to_string(),
        0xaa64 => "arm64".to_string(),
        0x01c4 => "armnt".to_string(),
        0x0200 => "ia64".to_string(),
        other => format!("{other:#06x}"),
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::parse;

    /// The header fields `parse` reads, at their offsets (e_lfanew = 0x80, PE32, CLR set).
    fn header(dll: bool, dotnet: bool) -> Vec<u8> {
        let mut d = vec![0u8; 0x400];
        d[..2].copy_from_slice(b"MZ");
        d[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        d[0x80..0x84].copy_from_slice(b"PE\0\0");
        d[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        d[0x86..0x88].copy_from_slice(&3u16.to_le_bytes());
        d[0x94..0x96].copy_from_slice(&224u16.to_le_bytes());
        let ch: u16 = if dll { 0x2102 } else { 0x0102 };
        d[0x96..0x98].copy_from_slice(&ch.to_le_bytes());
        let opt = 0x98;
        d[opt..opt + 2].copy_from_slice(&0x10Bu16.to_le_bytes());
        d[opt + 92..opt + 96].copy_from_slice(&16u32.to_le_bytes());
        if dotnet {
            let clr = opt + 96 + 14 * 8;
            d[clr..clr + 4].copy_from_slice(&0x2008u32.to_le_bytes());
            d[clr + 4..clr + 8].copy_from_slice(&0x48u32.to_le_bytes());
        }
        d
    }

    #[test]
    fn dll_and_clr_header_are_read() {
        let h = parse(&header(true, true)).unwrap_or_default();
        assert!(h.dll && h.dotnet && !h.pe32_plus);
        assert_eq!((h.machine, h.sections), (0x8664, 3));
        let h = parse(&header(false, false)).unwrap_or_default();
        assert!(!h.dll && !h.dotnet);
    }

    #[test]
    fn truncated_headers_are_refused_without_panic() {
        let full = header(true, true);
        for cut in 0..full.len() {
            let _ = parse(&full[..cut]);
        }
        assert!(parse(b"MZ").is_none());
    }
}
