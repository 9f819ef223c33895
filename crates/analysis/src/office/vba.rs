//! VBA projects (MS-OVBA): the `dir` stream's module table and the compressed module source.
//!
//! Written here rather than taken from `ovba` because `ovba` wants a whole CFB file (and pins an
//! old `cfb`), while here the streams are already read, and every output can be bounded.

/// Largest decompressed output of one stream. MS-OVBA copy tokens expand 2 bytes to up to 4098,
/// so a 64 KiB stream could claim ~130 MiB; real modules are well under 1 MiB of source.
pub(crate) const MAX_DECOMPRESSED: usize = 8 << 20;

/// Modules read from one project: real projects have a few dozen at most.
const MAX_MODULES: usize = 256;

/// Result of a bounded decompression.
pub(crate) struct Decompressed {
    pub data: Vec<u8>,
    /// The output reached [`MAX_DECOMPRESSED`] and was cut.
    pub truncated: bool,
}

/// MS-OVBA 2.4.1 decompression of a CompressedContainer. Returns `None` when the signature
/// byte is missing; a broken chunk ends the output (what was decoded so far is kept).
pub(crate) fn decompress(input: &[u8]) -> Option<Decompressed> {
    if input.first() != Some(&1) {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    let mut pos = 1usize;
    while pos + 2 <= input.len() {
        let header = u16::from_le_bytes([input[pos], input[pos + 1]]);
        pos += 2;
        let size = usize::from(header & 0x0FFF) + 3;
        let compressed = header & 0x8000 != 0;
        let chunk_end = (pos - 2 + size).min(input.len());
        let chunk_start = out.len();
        if !compressed {
            // Raw chunk: 4096 literal bytes.
            let end = (pos + 4096).min(input.len());
            out.extend_from_slice(input.get(pos..end)?);
            pos = end;
        } else {
            while pos < chunk_end {
                let flags = input[pos];
                pos += 1;
                for bit in 0..8 {
                    if pos >= chunk_end {
                        break;
                    }
                    if flags & (1 << bit) == 0 {
                        out.push(input[pos]);
                        pos += 1;
                    } else {
                        let Some(&high) = input.get(pos + 1) else {
                            return Some(Decompressed {
                                data: out,
                                truncated: false,
                            });
                        };
                        let token = u16::from_le_bytes([input[pos], high]);
                        pos += 2;
                        let decompressed = out.len() - chunk_start;
                        let bits = copy_token_bits(decompressed);
                        let length_mask = 0xFFFFu16 >> bits;
                        let offset = usize::from(token >> (16 - bits)) + 1;
                        let length = usize::from(token & length_mask) + 3;
                        if offset > decompressed {
                            return Some(Decompressed {
                                data: out,
                                truncated: false,
                            });
                        }
                        for _ in 0..length {
                            let Some(&byte) = out.get(out.len() - offset) else {
                                break;
                            };
                            out.push(byte);
                        }
                    }
                }
                if out.len() > MAX_DECOMPRESSED {
                    break;
                }
            }
            pos = chunk_end;
        }
        if out.len() > MAX_DECOMPRESSED {
            out.truncate(MAX_DECOMPRESSED);
            return Some(Decompressed {
                data: out,
                truncated: true,
            });
        }
    }
    Some(Decompressed {
        data: out,
        truncated: false,
    })
}

/// Bits of a copy token used for the offset, from the position inside the current chunk.
fn copy_token_bits(decompressed: usize) -> u32 {
    let mut bits = 4;
    while bits < 12 && (1usize << bits) < decompressed {
        bits += 1;
    }
    bits
}

/// One module entry of the `dir` stream.
#[derive(Debug, Default, Clone)]
pub(crate) struct ModuleEntry {
    pub name: String,
    pub stream: String,
    /// Where the compressed source starts in the module stream (after the p-code cache).
    pub offset: u32,
}

/// The parts of a decompressed `dir` stream the analysis needs.
#[derive(Debug, Default)]
pub(crate) struct Project {
    pub code_page: u16,
    pub modules: Vec<ModuleEntry>,
}

/// Parses a decompressed `dir` stream (MS-OVBA 2.3.4.2) as a flat list of `id, size, data`
/// records. `None` when a record runs past the end before any module was seen.
pub(crate) fn parse_dir(dir: &[u8]) -> Option<Project> {
    let mut project = Project {
        code_page: 1252,
        modules: Vec::new(),
    };
    let mut current: Option<ModuleEntry> = None;
    let mut pos = 0usize;
    while pos + 6 <= dir.len() {
        let id = u16::from_le_bytes([dir[pos], dir[pos + 1]]);
        let size = u32::from_le_bytes([dir[pos + 2], dir[pos + 3], dir[pos + 4], dir[pos + 5]]);
        pos += 6;
        // PROJECTVERSION's size field says 4 but 6 bytes of version follow the reserved u32.
        let size = if id == 0x0009 { 6 } else { size as usize };
        let Some(data) = pos.checked_add(size).and_then(|end| dir.get(pos..end)) else {
            break;
        };
        pos += size;
        let text = || decode(data, project.code_page);
        match id {
            0x0003 if data.len() >= 2 => project.code_page = u16::from_le_bytes([data[0], data[1]]),
            0x0019 => {
                if let Some(done) = current.take() {
                    project.modules.push(done);
                }
                current = Some(ModuleEntry {
                    name: text(),
                    ..ModuleEntry::default()
                });
            }
            0x0047 => set(&mut current, |m| m.name = utf16(data)),
            0x001A => set(&mut current, |m| m.stream = text()),
            0x0032 => set(&mut current, |m| m.stream = utf16(data)),
            0x0031 if data.len() >= 4 => {
                let offset = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                set(&mut current, |m| m.offset = offset);
            }
            0x002B => {
                if let Some(done) = current.take() {
                    project.modules.push(done);
                }
            }
            0x0010 => break,
            _ => {}
        }
        if project.modules.len() >= MAX_MODULES {
            break;
        }
    }
    if let Some(done) = current.take() {
        project.modules.push(done);
    }
    project.modules.retain(|m| !m.stream.is_empty());
    (!project.modules.is_empty()).then_some(project)
}

fn set(current: &mut Option<ModuleEntry>, f: impl FnOnce(&mut ModuleEntry)) {
    if let Some(m) = current.as_mut() {
        f(m);
    }
}

fn utf16(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Decodes project text (names, source) in the project's code page.
pub(crate) fn decode(data: &[u8], code_page: u16) -> String {
    let encoding = match code_page {
        874 => encoding_rs::WINDOWS_874,
        932 => encoding_rs::SHIFT_JIS,
        936 => encoding_rs::GBK,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        1250 => encoding_rs::WINDOWS_1250,
        1251 => encoding_rs::WINDOWS_1251,
        1253 => encoding_rs::WINDOWS_1253,
        1254 => encoding_rs::WINDOWS_1254,
        1255 => encoding_rs::WINDOWS_1255,
        1256 => encoding_rs::WINDOWS_1256,
        1257 => encoding_rs::WINDOWS_1257,
        1258 => encoding_rs::WINDOWS_1258,
        10000 => encoding_rs::MACINTOSH,
        65001 => encoding_rs::UTF_8,
        _ => encoding_rs::WINDOWS_1252,
    };
    encoding.decode_without_bom_handling(data).0.into_owned()
}
