//! `testbed audit`: checks the books of a running stack through the contract clients —
//! every menu's stock audit (`GET /inventory`) at drift 0, optionally one menu's reserved
//! units, and with the Order Service nothing PENDING and no compensation outstanding
//! (`GET /orders/stats`). Prints a one-line verdict; the CI scripts call it instead of
//! parsing JSON themselves.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use contract::{ClientError, OrderClient, OrderStats, OrderStatus, RestaurantClient, StockAudit};

/// What `testbed audit` reads and expects.
#[derive(clap::Args, Clone, Debug)]
pub struct AuditArgs {
    /// The Restaurant Service, e.g. http://127.0.0.1:8002 (its operator view `GET /inventory`).
    #[arg(long)]
    pub restaurant_url: String,
    /// The Order Service; when given, `GET /orders/stats` must show nothing PENDING and no
    /// compensation outstanding, and the orders by status are printed.
    #[arg(long)]
    pub order_url: Option<String>,
    /// A menu that must be in the audit (with `--reserved`, with that many units reserved).
    #[arg(long)]
    pub menu: Option<i64>,
    /// Units reserved expected on `--menu` since its accounting started.
    #[arg(long, requires = "menu")]
    pub reserved: Option<i64>,
    /// Keep reading the books for up to this many seconds until they pass (orders still in
    /// flight settle meanwhile); 0 judges the first reading.
    #[arg(long, default_value_t = 0)]
    pub within_secs: u64,
    /// Sent as `X-Admin-Token` (the operator views need it when the services have one).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// One reading of the books.
#[derive(Clone, Debug, Default)]
pub struct Books {
    pub audits: Vec<StockAudit>,
    /// Absent when no Order Service was given.
    pub stats: Option<OrderStats>,
}

/// The expectations beyond "every drift 0".
#[derive(Clone, Copy, Debug, Default)]
pub struct Expectations {
    pub menu: Option<i64>,
    pub reserved: Option<i64>,
}

impl From<&AuditArgs> for Expectations {
    fn from(args: &AuditArgs) -> Self {
        Self {
            menu: args.menu,
            reserved: args.reserved,
        }
    }
}

/// Every way `books` fall short of the expectations; empty when they balance.
pub fn problems(books: &Books, expect: Expectations) -> Vec<String> {
    let mut found: Vec<String> = books
        .audits
        .iter()
        .flat_map(|audit| {
            let drift = (audit.drift != 0)
                .then(|| format!("menu {} drift {:+}", audit.menu_id, audit.drift));
            let oversold = (audit.stock < 0)
                .then(|| format!("menu {} oversold: stock {}", audit.menu_id, audit.stock));
            drift.into_iter().chain(oversold)
        })
        .collect();
    if let Some(menu) = expect.menu {
        match books.audits.iter().find(|audit| audit.menu_id == menu) {
            None => found.push(format!("menu {menu} is not in the audit")),
            Some(audit) => match expect.reserved {
                Some(want) if audit.reserved != want => found.push(format!(
                    "menu {menu} reserved {} (want {want})",
                    audit.reserved
                )),
                _ => {}
            },
        }
    }
    if let Some(stats) = books.stats.as_ref().filter(|stats| !stats.settled()) {
        let pending = stats.count(OrderStatus::Pending);
        if pending != 0 {
            found.push(format!("{pending} orders PENDING"));
        }
        if stats.compensation_pending != 0 {
            found.push(format!(
                "{} orders with compensation pending",
                stats.compensation_pending
            ));
        }
    }
    found
}

/// The one-line verdict: `audit: PASS: …` or `audit: FAIL: …`.
pub fn verdict(books: &Books, expect: Expectations) -> (bool, String) {
    let found = problems(books, expect);
    let mut line = if found.is_empty() {
        format!(
            "audit: PASS: {} menus audited, drift 0 on all",
            books.audits.len()
        )
    } else {
        format!("audit: FAIL: {}", found.join("; "))
    };
    if let Some(audit) = expect
        .menu
        .and_then(|menu| books.audits.iter().find(|audit| audit.menu_id == menu))
    {
        let _ = write!(
            line,
            "; menu {} stock {} reserved {} restored {}",
            audit.menu_id, audit.stock, audit.reserved, audit.restored
        );
    }
    if let Some(stats) = &books.stats {
        let by_status: Vec<String> = OrderStatus::ALL
            .iter()
            .map(|status| format!("{status} {}", stats.count(*status)))
            .collect();
        let _ = write!(line, "; orders {}", by_status.join(", "));
    }
    (found.is_empty(), line)
}

/// Reads the books once.
pub async fn read_books(
    restaurants: &RestaurantClient,
    orders: Option<&OrderClient>,
) -> Result<Books, ClientError> {
    let audits = restaurants.inventories().await?;
    let stats = match orders {
        Some(orders) => Some(orders.stats().await?),
        None => None,
    };
    Ok(Books { audits, stats })
}

/// `testbed audit`: 0 when the books balance, 1 when they do not, 2 when they cannot be
/// read (a service unreachable, or refusing the operator view).
pub async fn run(args: &AuditArgs) -> ExitCode {
    let http = match crate::operator_http() {
        Ok(http) => http,
        Err(error) => {
            eprintln!("audit: no HTTP client: {error}");
            return ExitCode::from(2);
        }
    };
    let restaurants = RestaurantClient::with_http(http.clone(), &args.restaurant_url)
        .with_admin_token(args.admin_token.clone());
    let orders = args
        .order_url
        .as_deref()
        .map(|url| OrderClient::with_http(http, url).with_admin_token(args.admin_token.clone()));
    let deadline = Instant::now() + Duration::from_secs(args.within_secs);
    loop {
        let books = match read_books(&restaurants, orders.as_ref()).await {
            Ok(books) => books,
            Err(error) => {
                println!("audit: ERROR: cannot read the books: {error}");
                return ExitCode::from(2);
            }
        };
        let (passed, line) = verdict(&books, Expectations::from(args));
        if passed || Instant::now() >= deadline {
            println!("{line}");
            return if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(menu_id: i64, reserved: i64, drift: i64) -> StockAudit {
        StockAudit {
            menu_id,
            name: format!("menu {menu_id}"),
            stock: 10 - reserved + drift,
            initial_stock: 10,
            reserved,
            restored: 0,
            drift,
        }
    }

    fn stats(pending: i64, compensation_pending: i64) -> OrderStats {
        OrderStats {
            by_status: [(OrderStatus::Pending, pending), (OrderStatus::Paid, 3)].into(),
            compensation_pending,
            ..OrderStats::default()
        }
    }

    #[test]
    fn balanced_books_pass_with_the_orders_by_status() {
        let books = Books {
            audits: vec![audit(1, 2, 0), audit(2, 0, 0)],
            stats: Some(stats(0, 0)),
        };
        let (passed, line) = verdict(&books, Expectations::default());
        assert!(passed, "{line}");
        assert!(line.starts_with("audit: PASS: 2 menus audited, drift 0 on all"));
        assert!(line.contains("PAID 3"), "{line}");
    }

    #[test]
    fn drift_pending_and_compensation_each_fail() {
        let books = Books {
            audits: vec![audit(1, 0, 0), audit(7, 1, -2)],
            stats: Some(stats(1, 2)),
        };
        let found = problems(&books, Expectations::default());
        assert_eq!(
            found,
            [
                "menu 7 drift -2",
                "1 orders PENDING",
                "2 orders with compensation pending"
            ]
        );
        assert!(
            verdict(&books, Expectations::default())
                .1
                .starts_with("audit: FAIL: menu 7")
        );
    }

    #[test]
    fn negative_stock_fails_even_when_the_ledger_agrees() {
        let mut oversold = audit(3, 12, 0);
        assert_eq!(oversold.stock, -2);
        oversold.drift = 0;
        let books = Books {
            audits: vec![oversold],
            stats: None,
        };
        assert_eq!(
            problems(&books, Expectations::default()),
            ["menu 3 oversold: stock -2"]
        );
    }

    #[test]
    fn a_menu_expectation_checks_presence_and_reserved_units() {
        let books = Books {
            audits: vec![audit(1, 2, 0)],
            stats: None,
        };
        let expect = |menu, reserved| Expectations {
            menu: Some(menu),
            reserved,
        };
        assert!(problems(&books, expect(1, Some(2))).is_empty());
        assert!(problems(&books, expect(1, None)).is_empty());
        assert_eq!(
            problems(&books, expect(1, Some(0))),
            ["menu 1 reserved 2 (want 0)"]
        );
        assert_eq!(
            problems(&books, expect(9, None)),
            ["menu 9 is not in the audit"]
        );
    }
}
