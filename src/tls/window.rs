//! A fixed-capacity byte buffer with a filled window `[start, end)`.
//!
//! Bytes are appended at `end` and consumed from `start`; the storage is allocated once and never
//! grows. The three buffers of a [`TlsStream`](super::TlsStream) (ciphertext in, ciphertext out,
//! decrypted plaintext) are all windows. Records are decrypted in place, so the storage holds
//! plaintext: it is wiped when the window is dropped.

use zeroize::Zeroize;

/// Fixed-capacity FIFO of bytes: append at the back, consume from the front. Its whole storage
/// is zeroed on drop.
pub(crate) struct Window {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Window {
    /// Allocates `capacity` zeroed bytes (the only allocation a window ever makes).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Number of filled bytes.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The filled bytes, oldest first.
    pub(crate) fn filled(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The filled bytes, mutable (rustls decrypts incoming records in place).
    pub(crate) fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Free bytes after the filled window, usable without moving anything.
    pub(crate) fn spare_len(&self) -> usize {
        self.buf.len() - self.end
    }

    /// The free bytes after the filled window, at most up to `limit` (an index into the storage).
    pub(crate) fn spare_mut_until(&mut self, limit: usize) -> &mut [u8] {
        let limit = limit.min(self.buf.len()).max(self.end);
        &mut self.buf[self.end..limit]
    }

    /// All free bytes after the filled window.
    pub(crate) fn spare_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes written into the spare area as filled.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Drops `n` bytes from the front (fewer if fewer are filled).
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves the filled bytes to the front of the storage so all free space is contiguous.
    pub(crate) fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Appends `bytes`, compacting first if needed; false (and nothing appended) when they
    /// cannot fit in the free capacity.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.capacity() - self.len() {
            return false;
        }
        if bytes.len() > self.spare_len() {
            self.compact();
        }
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
        true
    }

    /// Copies as many filled bytes as fit into `out`, consumes them, and returns the count.
    pub(crate) fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.len().min(out.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        n
    }
}

/// Decrypted records and their plaintext must not outlive the connection in freed memory.
impl Drop for Window {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Window {
    /// Zeroes the whole storage, filled or not, and empties the window.
    pub(crate) fn wipe(&mut self) {
        self.buf.zeroize();
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn wiping_zeroes_every_byte_ever_written_and_empties_the_window() {
        let mut window = Window::with_capacity(16);
        assert!(window.append(b"secret plaintext"));
        window.consume(6);
        window.wipe();
        assert!(window.is_empty());
        assert!(window.buf.iter().all(|&byte| byte == 0), "{:?}", window.buf);
        assert_eq!(window.capacity(), 16);
    }

    #[test]
    fn delivers_bytes_in_the_order_they_were_appended() {
        let mut window = Window::with_capacity(8);
        assert!(window.append(b"abc"));
        assert!(window.append(b"de"));
        let mut out = [0u8; 4];
        assert_eq!(window.take_into(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(window.filled(), b"e");
    }

    #[test]
    fn compacts_to_reuse_space_freed_at_the_front() {
        let mut window = Window::with_capacity(8);
        assert!(window.append(b"abcdef"));
        window.consume(4);
        assert_eq!(window.spare_len(), 2);
        assert!(window.append(b"ghijk"));
        assert_eq!(window.filled(), b"efghijk");
    }

    #[test]
    fn refuses_an_append_larger_than_the_free_capacity() {
        let mut window = Window::with_capacity(4);
        assert!(window.append(b"abc"));
        assert!(!window.append(b"de"));
        assert_eq!(window.filled(), b"abc");
    }

    #[test]
    fn resets_to_the_front_once_everything_is_consumed() {
        let mut window = Window::with_capacity(4);
        assert!(window.append(b"abcd"));
        window.consume(4);
        assert!(window.is_empty());
        assert_eq!(window.spare_len(), 4);
    }

    #[test]
    fn clamps_over_consumption_and_over_commit() {
        let mut window = Window::with_capacity(4);
        window.commit(10);
        assert_eq!(window.len(), 4);
        window.consume(10);
        assert!(window.is_empty());
    }

    #[test]
    fn limits_the_spare_area_to_the_requested_index() {
        let mut window = Window::with_capacity(8);
        assert!(window.append(b"ab"));
        assert_eq!(window.spare_mut_until(6).len(), 4);
        assert_eq!(window.spare_mut_until(1).len(), 0);
        assert_eq!(window.spare_mut().len(), 6);
    }
}
