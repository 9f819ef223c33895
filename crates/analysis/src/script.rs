//! Scripts (js, jse, vbs, vbe, wsf, hta, ps1, bat, cmd). (Stub: filled in by the documents work.)

use crate::kind::Kind;
use crate::walk::Walk;

pub(crate) fn inspect(_walk: &mut Walk<'_>, _index: u32, _kind: Kind, _data: &[u8]) {}
