//! OLE1 objects (MS-OLEDS 2.2.4, as found in RTF `\objdata`) and the `Package` native data
//! format (a file wrapped by the Packager: label, source path, temp path, bytes), which also
//! fills `\x01Ole10Native` streams in compound files.

/// Longest name string read from a header: paths are at most a few hundred bytes; anything
/// longer is not a real package header.
const MAX_NAME: usize = 4096;

/// A little-endian reader over hostile bytes: every read is checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u16(&mut self) -> Option<u16> {
        let b = self.data.get(self.pos..self.pos.checked_add(2)?)?;
        self.pos += 2;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos.checked_add(4)?)?;
        self.pos += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }

    /// A NUL-terminated ANSI string.
    fn cstr(&mut self) -> Option<String> {
        let rest = self.data.get(self.pos..)?;
        let end = rest.iter().take(MAX_NAME).position(|&b| b == 0)?;
        self.pos += end + 1;
        Some(ansi(rest.get(..end)?))
    }

    /// A u32-length-prefixed ANSI string (length counts the NUL).
    fn prefixed(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        if len > MAX_NAME {
            return None;
        }
        let b = self.bytes(len)?;
        Some(ansi(b.split(|&c| c == 0).next().unwrap_or_default()))
    }
}

fn ansi(b: &[u8]) -> String {
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(b)
        .0
        .into_owned()
}

/// A file wrapped by the Packager.
pub(crate) struct Package<'a> {
    pub label: String,
    pub source_path: String,
    pub temp_path: String,
    pub data: &'a [u8],
}

impl Package<'_> {
    /// The name to give the extracted file: the last component of a path, else the label.
    pub(crate) fn file_name(&self) -> String {
        [&self.temp_path, &self.source_path, &self.label]
            .into_iter()
            .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(""))
            .find(|n| !n.is_empty())
            .unwrap_or("package")
            .to_string()
    }
}

/// Parses Package native data (without the leading size of an `Ole10Native` stream).
pub(crate) fn parse(native: &[u8]) -> Option<Package<'_>> {
    let mut r = Reader {
        data: native,
        pos: 0,
    };
    let _signature = r.u16()?;
    let label = r.cstr()?;
    let source_path = r.cstr()?;
    let _kind = r.u32()?;
    let temp_len = r.u32()? as usize;
    if temp_len > MAX_NAME {
        return None;
    }
    let temp_path = r.cstr()?;
    let size = r.u32()? as usize;
    let data = r.bytes(size)?;
    Some(Package {
        label,
        source_path,
        temp_path,
        data,
    })
}

/// An OLE1 object header and its native data.
pub(crate) struct Ole1Object<'a> {
    pub class_name: String,
    /// 1 linked, 2 embedded.
    pub format_id: u32,
    /// For a link: the linked file or URL.
    pub topic: String,
    pub native: &'a [u8],
}

/// Parses an OLE1 `ObjectHeader` + `EmbeddedObject`/`LinkedObject` (MS-OLEDS 2.2.4–2.2.6).
pub(crate) fn parse_ole1(data: &[u8]) -> Option<Ole1Object<'_>> {
    let mut r = Reader { data, pos: 0 };
    let _version = r.u32()?;
    let format_id = r.u32()?;
    let class_name = r.prefixed()?;
    let topic = r.prefixed()?;
    let _item = r.prefixed()?;
    let native = if format_id == 2 {
        let size = r.u32()? as usize;
        let available = data.len().saturating_sub(r.pos);
        r.bytes(size.min(available))?
    } else {
        &[]
    };
    Some(Ole1Object {
        class_name,
        format_id,
        topic,
        native,
    })
}
