//! CSV downloads of the aggregates pages show. Two rules hold for every cell:
//! - a suppressed result is written as "suppressed", never as its number (a [`Datum::Gap`]
//!   carries none, so there is nothing to leak);
//! - a cell a spreadsheet would run as a formula (starting with = + - @, tab or carriage return)
//!   gets a leading single quote (OWASP's advice against CSV injection).

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::kernel::charts::Datum;
use crate::kernel::error::HttpError;

/// What a suppressed cell says, in every export.
pub const SUPPRESSED: &str = "suppressed";

/// A cell a spreadsheet will not run as a formula.
pub fn safe(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A datum's cell: its label, or "suppressed".
pub fn datum(d: &Datum) -> String {
    match d {
        Datum::Value { label, .. } => label.clone(),
        Datum::Gap { .. } => SUPPRESSED.to_owned(),
    }
}

/// A CSV document being built: a header, then rows, every cell made safe.
pub struct Csv {
    filename: &'static str,
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    /// `filename` is fixed by the route (ASCII, no quotes), never taken from data.
    pub fn new(filename: &'static str, header: &[&str]) -> Self {
        let mut csv = Self {
            filename,
            writer: csv::Writer::from_writer(Vec::new()),
        };
        csv.row(header.iter().map(|h| h.to_string()));
        csv
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| safe(c.as_ref()).into_owned())
            .collect();
        // Writing into memory fails only if a record is malformed, which strings never are.
        if let Err(e) = self.writer.write_record(&cells) {
            tracing::error!(error = %e, "csv row failed");
        }
    }

    /// The document as a download.
    pub fn into_response(self) -> Result<Response, HttpError> {
        let body = self.writer.into_inner().map_err(|e| {
            tracing::error!(error = %e, "csv failed");
            HttpError::from(kintsugi_app::Error::Internal)
        })?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", self.filename),
                ),
            ],
            body,
        )
            .into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Platform team", "Platform team"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(safe(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn suppressed_is_a_word() {
        assert_eq!(datum(&Datum::gap("fewer than 5 answered")), "suppressed");
        assert_eq!(datum(&Datum::value(5.4, "5.4")), "5.4");
    }

    #[test]
    fn rows_are_quoted_and_safe() {
        let mut c = Csv::new("x.csv", &["name", "value"]);
        c.row(["=1+1, \"quoted\"", "3"]);
        let body = c.writer.into_inner().unwrap();
        let mut r = csv::Reader::from_reader(body.as_slice());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][0], "'=1+1, \"quoted\"");
        assert_eq!(&rows[0][1], "3");
    }
}
