//! Password hashing under a bound: argon2id with explicit parameters, run by a fixed set of
//! worker threads fed from a short queue. Each hash needs `M_COST_KIB` of memory, so the
//! workers bound both CPU and memory (workers × 19 MiB, and one allocator arena per worker
//! instead of one per blocking-pool thread, which is what let a login flood keep 2 GB); a
//! request that finds the queue full is refused at once with 503 and `Retry-After` instead
//! of waiting behind the flood. Each worker owns its argon2 memory for its whole life.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::http::StatusCode;
use testbed_common::ApiError;
use tokio::sync::oneshot;

/// argon2id memory cost: 19 MiB (OWASP's minimum recommendation for argon2id).
pub const M_COST_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const T_COST: u32 = 2;
/// argon2id lanes.
pub const P_COST: u32 = 1;
/// Niceness of the hashing threads (0 normal, 19 lowest).
const HASH_NICENESS: i32 = 10;

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: String,
        stored: String,
        reply: oneshot::Sender<Result<bool, String>>,
    },
}

/// The bounded hashing service. Cloning shares the same workers and queue; the workers end
/// when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    queue: SyncSender<Job>,
}

impl PasswordHasher {
    /// Starts `workers` hashing threads behind a queue of `queue` waiting requests.
    pub fn start(workers: usize, queue: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(Self { queue: sender })
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    /// Checks a password against a stored PHC hash.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            reply,
        })?;
        answer
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    fn submit(&self, job: Job) -> Result<(), ApiError> {
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many password checks are in progress; retry in a second",
            )
            .with("retry_after_secs", 1)),
            Err(TrySendError::Disconnected(_)) => {
                Err(ApiError::internal("the password hashing workers stopped"))
            }
        }
    }
}

/// The argon2id parameters above.
pub fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("the constant argon2 parameters are valid")
}

/// One worker's argon2 memory, allocated once: hashing never asks the allocator for 19 MiB
/// again (glibc kept such freed blocks resident, ~19 MiB per signup, which is how a signup
/// flood reached hundreds of MB).
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    fn new() -> Self {
        Self {
            blocks: vec![Block::new(); params().block_count()],
        }
    }

    /// Blocks for `params`, growing once for a stored hash made with more memory.
    fn for_params(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::new());
        }
        &mut self.blocks[..needed]
    }

    /// A new PHC string for `password` with a fresh random salt.
    fn hash(&mut self, password: &[u8]) -> Result<String, String> {
        let params = params();
        let mut salt = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut salt[..]);
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, &salt, &mut out, self.for_params(&params))
            .map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
            salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches a stored PHC string (its own algorithm and parameters).
    fn verify(&mut self, password: &[u8], stored: &str) -> Result<bool, String> {
        let parsed = PasswordHash::new(stored).map_err(|e| e.to_string())?;
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(&*parsed.algorithm).map_err(|e| e.to_string())?;
        let version =
            Version::try_from(parsed.version.unwrap_or(0x13)).map_err(|e| e.to_string())?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err("the stored hash has no salt or output".into());
        };
        let mut out = vec![0u8; expected.as_bytes().len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(password, salt, &mut out, self.for_params(&params))
            .map_err(|e| e.to_string())?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out).map_err(|e| e.to_string())? == *expected)
    }
}

/// One worker: takes jobs until every sender is gone.
fn work(receiver: &Mutex<Receiver<Job>>) {
    // Hashing yields the CPU to request handling: on Linux this lowers only this thread's
    // priority, so `/health` and cached reads stay quick while a flood of logins is hashed.
    if let Err(e) = rustix::process::setpriority_process(None, HASH_NICENESS) {
        tracing::debug!(error = %e, "could not lower the hashing thread's priority");
    }
    let mut memory = Memory::new();
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Hash { password, reply }) => {
                let _ = reply.send(memory.hash(password.as_bytes()));
            }
            Ok(Job::Verify {
                password,
                stored,
                reply,
            }) => {
                let _ = reply.send(memory.verify(password.as_bytes(), &stored));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let hasher = PasswordHasher::start(1, 4).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_verifies_only(&hasher, "correct horse", hash).await;
    }

    /// `stored` verifies `password`, and refuses another one.
    async fn assert_verifies_only(hasher: &PasswordHasher, password: &str, stored: String) {
        let right = hasher.verify(password.into(), stored.clone()).await;
        assert!(right.unwrap(), "`{password}` verifies against {stored}");
        let wrong = hasher.verify(format!("not {password}"), stored).await;
        assert!(!wrong.unwrap(), "another password does not");
    }

    #[tokio::test]
    async fn verifies_hashes_made_by_the_argon2_crate() {
        use argon2::password_hash::PasswordHasher as _;
        let stored = Argon2::default()
            .hash_password(b"an older hash")
            .unwrap()
            .to_string();
        let hasher = PasswordHasher::start(1, 4).unwrap();
        assert_verifies_only(&hasher, "an older hash", stored).await;
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let hasher = PasswordHasher::start(1, 1).unwrap();
        let calls = (0..8).map(|_| hasher.hash("correct horse".into()));
        let results = futures::future::join_all(calls).await;
        let busy = results
            .iter()
            .filter(|r| {
                r.as_ref()
                    .is_err_and(|e| e.status == StatusCode::SERVICE_UNAVAILABLE)
            })
            .count();
        let done = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            busy >= 1,
            "one worker and a queue of one cannot take eight at once"
        );
        assert!(done >= 1, "the first ones are served");
        assert_eq!(busy + done, 8);
    }
}
