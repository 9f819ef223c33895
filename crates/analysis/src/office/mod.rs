//! Office documents: OLE/CFB and OOXML, VBA, XLM, DDE, external targets, embedded objects, RTF.
//! (Stub: filled in by the Office work.)

use crate::kind::Kind;
use crate::walk::Walk;

pub(crate) fn inspect(_walk: &mut Walk<'_>, _index: u32, _kind: Kind, _data: &[u8]) {}
