//! Where in a template file a JSON path or a piece of text is: the line an error
//! names. serde_json keeps no positions, so the (already valid) text is scanned.
//! Pure.

/// The 1-based line where the value at `path` starts (`blocks[2].text.text`, as the
/// load-time checks write paths; empty for the root).
pub fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
        line: 1,
        target: path,
        found: None,
    };
    scan.value(String::new());
    scan.found
}

/// The 1-based line of the first occurrence of `needle`.
pub fn line_of_text(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
        .map(|at| text[..at].bytes().filter(|b| *b == b'\n').count() + 1)
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    line: usize,
    target: &'a str,
    found: Option<usize>,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
        }
        self.at += 1;
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.bump();
        }
    }

    fn value(&mut self, path: String) {
        self.skip_space();
        if self.found.is_some() {
            return;
        }
        if path == self.target {
            self.found = Some(self.line);
            return;
        }
        match self.peek() {
            Some(b'{') => self.object(&path),
            Some(b'[') => self.array(&path),
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.bump();
                }
            }
            None => {}
        }
    }

    fn object(&mut self, path: &str) {
        self.bump();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'"') => {
                    let key = self.string();
                    self.skip_space();
                    if self.peek() == Some(b':') {
                        self.bump();
                    }
                    let child = if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    };
                    self.value(child);
                    if self.found.is_some() {
                        return;
                    }
                }
                Some(b',') => self.bump(),
                Some(b'}') => return self.bump(),
                _ => return,
            }
        }
    }

    fn array(&mut self, path: &str) {
        self.bump();
        let mut index = 0;
        loop {
            self.skip_space();
            match self.peek() {
                Some(b']') => return self.bump(),
                Some(b',') => {
                    self.bump();
                    index += 1;
                }
                Some(_) => {
                    self.value(format!("{path}[{index}]"));
                    if self.found.is_some() {
                        return;
                    }
                }
                None => return,
            }
        }
    }

    /// A string's raw content (escapes kept; keys in templates are plain).
    fn string(&mut self) -> String {
        self.bump();
        let start = self.at;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => break,
                _ => self.bump(),
            }
        }
        let content =
            String::from_utf8_lossy(&self.bytes[start..self.at.min(self.bytes.len())]).into_owned();
        self.bump();
        content
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  \"text\": \"x\",\n  \"blocks\": [\n    { \"type\": \"section\",\n      \"text\": { \"type\": \"mrkdwn\", \"text\": \"{{a}}\" } },\n    {\n      \"type\": \"divider\" }\n  ]\n}\n";

    #[test]
    fn a_path_is_found_on_the_line_its_value_starts() {
        assert_eq!(line_of_path(TEXT, ""), Some(1));
        assert_eq!(line_of_path(TEXT, "text"), Some(2));
        assert_eq!(line_of_path(TEXT, "blocks"), Some(3));
        assert_eq!(line_of_path(TEXT, "blocks[0].text.text"), Some(5));
        assert_eq!(line_of_path(TEXT, "blocks[1]"), Some(6));
        assert_eq!(line_of_path(TEXT, "blocks[1].type"), Some(7));
        assert_eq!(line_of_path(TEXT, "blocks[2]"), None);
    }

    #[test]
    fn text_is_found_on_its_line() {
        assert_eq!(line_of_text(TEXT, "{{a}}"), Some(5));
        assert_eq!(line_of_text(TEXT, "{{b}}"), None);
    }
}
