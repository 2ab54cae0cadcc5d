//! The input layer: delimiter sniffing, BOM, decoding, header matching,
//! record splitting (plain and quoted chunks, tiny blocks so that records
//! straddle chunk boundaries) and every typed field accessor.

use pvkit::input::{self, Col, ColumnSpec, Columns, Row, RowError, RowSink, Schema, Source};

static ANY: Schema = Schema {
    what: "fuzzed",
    columns: &[
        ColumnSpec::required("patient_id").sensitive(),
        ColumnSpec::optional("date"),
        ColumnSpec::optional("received_at"),
        ColumnSpec::optional("listed"),
        ColumnSpec::optional("doctor_fte"),
        ColumnSpec::optional("unit"),
    ],
};

struct Touch {
    cols: [Col; 6],
}

impl RowSink for Touch {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError> {
        let [patient, date, moment, count, number, text] = self.cols;
        row.required(patient)?;
        row.optional_date(date)?;
        row.optional_moment(moment)?;
        if row.bytes(count).is_some() {
            row.count(count)?;
        }
        if row.bytes(number).is_some() {
            row.number(number)?;
        }
        row.text(text)?;
        Ok(())
    }
}

fn make(columns: &Columns) -> anyhow::Result<Touch> {
    let names = [
        "patient_id",
        "date",
        "received_at",
        "listed",
        "doctor_fte",
        "unit",
    ];
    Ok(Touch {
        cols: names.map(|name| columns.col(name)),
    })
}

fn main() {
    pvkit_fuzz::init();
    afl::fuzz!(|data: &[u8]| {
        let Some((options, file)) = pvkit_fuzz::options_and_file(data) else {
            return;
        };
        let path = pvkit_fuzz::scratch_file(file);
        let mut rejects = pvkit_fuzz::rejects();
        if let Ok(result) = input::read(&[Source::File(path)], &ANY, &options, &mut rejects, make) {
            assert!(result.rejected as usize == rejects.len());
        }
    });
    pvkit_fuzz::remove_files();
}
