//! A Server-Sent Events parser (the WHATWG event-stream format) that takes
//! bytes as they arrive, however the network splits them.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `event:` field, `"message"` when absent.
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
    pub id: Option<String>,
}

/// An event larger than this is refused (a broken or hostile stream).
pub const MAX_EVENT_BYTES: usize = 16 << 20;

#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

#[derive(Default)]
pub struct Parser {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    /// The last byte seen was `\r`: a following `\n` belongs to it.
    after_cr: bool,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        if bytes.is_empty() {
            // Nothing to see, and a pending `\r` must still meet its `\n`.
            return Ok(());
        }
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&bytes[..pos]);
            let was_cr = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if was_cr {
                if bytes.first() == Some(&b'\n') {
                    bytes = &bytes[1..];
                } else if bytes.is_empty() {
                    self.after_cr = true;
                }
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
            self.check_size()?;
        }
        self.line.extend_from_slice(bytes);
        self.check_size()
    }

    /// End of stream: an event still pending without its blank line is
    /// dispatched if it has data (lenient, as proxies sometimes drop it).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
        self.dispatch(out);
    }

    fn check_size(&self) -> Result<(), TooLarge> {
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned())
            }
            _ => {} // retry: and unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let data = String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned();
        out.push(Event {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data,
            id: self.id.clone(),
        });
    }
}

#[cfg(test)]
mod tests;
