//! The rules judged on the final consistency check: stock drift, oversell, the
//! restaurant's ledger, orders left PENDING, and the clients' tally against the server's
//! sales. Without a readable final check none of them can pass.

use super::{AssertionResult, Evidence, verdict};
use crate::consistency::{ConsistencyCheck, ConsistencyRow};
use crate::scenario::Assertion;

/// The failed verdict when there is no readable final check; `None` when there is one.
fn no_check(assertion: &Assertion, evidence: &Evidence) -> Option<AssertionResult> {
    match &evidence.final_check {
        Some(check) if check.error.is_none() => None,
        Some(check) => Some(verdict(
            assertion,
            false,
            "a final consistency check".into(),
            "could not be read".into(),
            check.error.clone().unwrap_or_default(),
        )),
        None => Some(verdict(
            assertion,
            false,
            "a final consistency check".into(),
            "none was made".into(),
            "the run ended before the final consistency check".into(),
        )),
    }
}

/// A rule every menu of the final check must keep: `wrong` describes a menu that breaks
/// it, `actual` sums up the menus and what was wrong with them.
fn every_menu(
    assertion: &Assertion,
    evidence: &Evidence,
    expected: String,
    actual: impl FnOnce(&[ConsistencyRow], &[String]) -> String,
    wrong: impl Fn(&ConsistencyRow) -> Option<String>,
) -> AssertionResult {
    if let Some(missing) = no_check(assertion, evidence) {
        return missing;
    }
    let rows = evidence
        .final_check
        .as_ref()
        .map(|c| c.rows.as_slice())
        .unwrap_or_default();
    let bad: Vec<String> = rows.iter().filter_map(wrong).collect();
    verdict(
        assertion,
        bad.is_empty(),
        expected,
        actual(rows, &bad),
        bad.join("; "),
    )
}

/// `no_drift`: stock = initial − sold on every menu.
pub(super) fn no_drift(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    every_menu(
        assertion,
        evidence,
        "drift 0 on every menu".into(),
        |rows, _| {
            let total: i64 = rows.iter().map(|r| r.drift.abs()).sum();
            format!("total |drift| {total}")
        },
        |r| {
            (r.drift != 0).then(|| {
                format!(
                    "{} drift {:+} (stock {}, initial {}, sold {})",
                    r.key, r.drift, r.stock, r.initial, r.sold
                )
            })
        },
    )
}

/// `no_oversell`: stock ≥ 0 and sold ≤ initial on every menu.
pub(super) fn no_oversell(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    every_menu(
        assertion,
        evidence,
        "stock ≥ 0 and sold ≤ initial".into(),
        |rows, _| {
            let lowest = rows.iter().map(|r| r.stock).min().unwrap_or(0);
            format!("lowest stock {lowest}")
        },
        |r| {
            r.oversold().then(|| {
                format!(
                    "{}: stock {}, sold {} of {} (over by {})",
                    r.key,
                    r.stock,
                    r.sold,
                    r.initial,
                    (r.sold - r.initial).max(-r.stock)
                )
            })
        },
    )
}

/// `inventory_identity`: stock = initial − reserved + restored on every menu.
pub(super) fn inventory_identity(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    every_menu(
        assertion,
        evidence,
        "gap 0 on every menu".into(),
        |_, bad| format!("{} menus off", bad.len()),
        |r| {
            (r.identity_gap != 0).then(|| {
                format!(
                    "{}: stock {} ≠ {} - {} + {} (off by {:+})",
                    r.key, r.stock, r.initial, r.reserved, r.restored, r.identity_gap
                )
            })
        },
    )
}

/// `client_agrees`: what the clients saw sold is what the server sold, per menu, but for
/// orders whose outcome the clients never learned.
pub(super) fn client_agrees(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    let tally = &evidence.tally;
    let client_total: i64 = tally.net_sold.values().sum();
    every_menu(
        assertion,
        evidence,
        format!("server sold = client-seen ({client_total})"),
        |rows, _| {
            let server_total: i64 = rows.iter().map(|r| r.sold).sum();
            format!("server sold {server_total}")
        },
        |row| {
            let client = tally.net_sold.get(&row.menu_id).copied().unwrap_or(0);
            let unknown = tally
                .unknown_quantity
                .get(&row.menu_id)
                .copied()
                .unwrap_or(0);
            let gap = row.sold - client;
            (gap.abs() > unknown).then(|| {
                format!(
                    "{}: server sold {}, clients saw {} (off by {:+}, {} of unknown outcome)",
                    row.key, row.sold, client, gap, unknown
                )
            })
        },
    )
}

/// `none_pending`: no order left PENDING after the settle wait.
pub(super) fn none_pending(assertion: &Assertion, evidence: &Evidence) -> AssertionResult {
    if let Some(missing) = no_check(assertion, evidence) {
        return missing;
    }
    let pending = evidence
        .final_check
        .as_ref()
        .map_or(0, ConsistencyCheck::pending);
    verdict(
        assertion,
        pending == 0,
        "0 PENDING".into(),
        format!("{pending} PENDING"),
        format!("{pending} orders still PENDING after the settle wait"),
    )
}
