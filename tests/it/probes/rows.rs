//! A hot row in real PostgreSQL: transactions that write the same row again (the same
//! statement, the same parameters) hold its lock from that write to their end, and the python
//! probe's psycopg hook measures that span; rows that differ per transaction are not one lock.

use super::*;
use crate::support::postgres::PrivatePostgres;

const ROWS: &str = r#"
import sys, time
import psycopg

dsn, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with psycopg.connect(dsn) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS hot (id int PRIMARY KEY, n int)")
    conn.execute("INSERT INTO hot SELECT g, 0 FROM generate_series(0, 100) g ON CONFLICT DO NOTHING")
    conn.commit()
    for i in range(n):
        with conn.transaction():
            conn.execute("UPDATE hot SET n = n + 1 WHERE id = %s", (1 if mode == "hot" else i,))
            time.sleep(0.02)  # working while the row stays locked
"#;

#[test]
fn a_row_every_transaction_writes_again_is_held_from_that_write_to_the_commit() {
    let pg = PrivatePostgres::start();
    let scratch = Scratch::new("probe-rows");
    let script = scratch.write("rows.py", ROWS);
    let python = &[ProbeKind::Python];
    let dsn = pg.dsn();
    let (ran, data) = run_probed(&scratch, python, &script, &[&dsn, "hot", "20"], &[]);
    let p = python_of(&data, ran.pid);
    // The first transaction's write is the row's first: the 19 after it write it again.
    assert_eq!(p.row_holds, 19, "{}", ran.stdout);
    let per = p.row_hold_s / 19.0;
    assert!(
        (0.02..0.2).contains(&per),
        "each held its 20 ms of work and its commit: {per} s"
    );

    let (ran, data) = run_probed(&scratch, python, &script, &[&dsn, "cold", "20"], &[]);
    let p = python_of(&data, ran.pid);
    assert_eq!(
        (p.row_holds, p.row_hold_s),
        (0, 0.0),
        "a different row each time is no one lock"
    );
}
