//! A look at an MP4/MOV file's top-level boxes before Discoverer opens it.
//!
//! An ISO-BMFF file without its index (`moov`), a recording cut short or an upload that
//! stopped half-way, cannot be played. GStreamer 1.22's Discoverer sometimes hangs on
//! one until its timeout instead of failing (1 run in 3 here), which made a corrupt source
//! a retryable TIMEOUT three times over. Walking the box headers is a few reads, and
//! says exactly what is wrong.

use std::io::{self, Read, Seek, SeekFrom};

/// What is wrong with an MP4-family file's layout, or `None` when it has a `moov` box,
/// or is not an ISO-BMFF file at all (Discoverer judges everything else).
pub fn missing_index(file: &mut (impl Read + Seek)) -> io::Result<Option<String>> {
    let length = file.seek(SeekFrom::End(0))?;
    let mut offset = 0;
    let mut first = true;
    while offset < length {
        file.seek(SeekFrom::Start(offset))?;
        let Some((size, kind)) = box_header(file, offset, length)? else {
            return Ok(if first {
                None
            } else {
                Some(truncated(offset, length))
            });
        };
        if first && !matches!(&kind, b"ftyp" | b"styp") {
            return Ok(None);
        }
        first = false;
        if &kind == b"moov" {
            return Ok(None);
        }
        match size {
            // The box runs to the end of the file (a final mdat): nothing follows it.
            BoxSize::ToEnd => break,
            BoxSize::Bytes(size) if offset + size > length => {
                return Ok(Some(format!(
                    "the MP4 file is truncated: its '{}' box needs {size} bytes from byte {offset}, \
                     the file has {length}; it has no index (moov)",
                    String::from_utf8_lossy(&kind)
                )));
            }
            BoxSize::Bytes(size) => offset += size,
        }
    }
    if first {
        return Ok(None);
    }
    Ok(Some(
        "the MP4 file has no index (moov box): the recording or upload did not finish".into(),
    ))
}

enum BoxSize {
    Bytes(u64),
    ToEnd,
}

/// The box header at `offset`, or `None` when no valid one fits there.
fn box_header(
    file: &mut impl Read,
    offset: u64,
    length: u64,
) -> io::Result<Option<(BoxSize, [u8; 4])>> {
    let mut header = [0u8; 8];
    if length - offset < 8 {
        return Ok(None);
    }
    file.read_exact(&mut header)?;
    let kind: [u8; 4] = header[4..8].try_into().expect("4 bytes");
    if !kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Ok(None);
    }
    let size = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as u64;
    let size = match size {
        0 => BoxSize::ToEnd,
        1 => {
            let mut large = [0u8; 8];
            if length - offset < 16 {
                return Ok(None);
            }
            file.read_exact(&mut large)?;
            match u64::from_be_bytes(large) {
                size if size < 16 => return Ok(None),
                size => BoxSize::Bytes(size),
            }
        }
        size if size < 8 => return Ok(None),
        size => BoxSize::Bytes(size),
    };
    Ok(Some((size, kind)))
}

fn truncated(offset: u64, length: u64) -> String {
    format!(
        "the MP4 file is truncated: no valid box at byte {offset} of {length}; \
         it has no index (moov)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn mp4_box(kind: &[u8; 4], body_len: usize) -> Vec<u8> {
        let mut bytes = ((body_len + 8) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend(std::iter::repeat_n(0u8, body_len));
        bytes
    }

    fn check(bytes: Vec<u8>) -> Option<String> {
        missing_index(&mut Cursor::new(bytes)).unwrap()
    }

    #[test]
    fn an_index_first_or_last_is_fine() {
        let head = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"moov", 40),
            mp4_box(b"mdat", 100),
        ];
        assert_eq!(check(head.concat()), None);
        let tail = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"mdat", 100),
            mp4_box(b"moov", 40),
        ];
        assert_eq!(check(tail.concat()), None);
    }

    #[test]
    fn a_file_cut_in_its_media_data_is_truncated() {
        let mut bytes = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"mdat", 100),
            mp4_box(b"moov", 40),
        ]
        .concat();
        bytes.truncate(24 + 50);
        let problem = check(bytes).expect("no moov");
        assert!(
            problem.contains("truncated") && problem.contains("'mdat'"),
            "{problem}"
        );
    }

    #[test]
    fn a_complete_file_without_moov_says_so() {
        let bytes = [mp4_box(b"ftyp", 16), mp4_box(b"mdat", 100)].concat();
        let problem = check(bytes).expect("no moov");
        assert!(problem.contains("no index"), "{problem}");
    }

    #[test]
    fn other_formats_are_left_to_discoverer() {
        assert_eq!(
            check(b"\x1aE\xdf\xa3 matroska and more bytes".to_vec()),
            None
        );
        assert_eq!(check(vec![0x47; 188 * 3]), None);
        assert_eq!(check(Vec::new()), None);
        assert_eq!(check(mp4_box(b"free", 8)), None);
    }
}
