//! html objects. (Stub: filled in by the documents work.)

use crate::walk::Walk;

pub(crate) fn inspect(_walk: &mut Walk<'_>, _index: u32, _data: &[u8]) {}
