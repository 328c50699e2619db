//! Worker threads of a service (one per collector, one per sink): all run
//! until one stop flag is set, and each ends with a stop line or an error;
//! a panicking worker is reported as an error naming it, and the others go
//! on.
//!
//! ```
//! use auditfed_platform::supervise::run_workers;
//!
//! let names = ["trail", "syslog"];
//! let results = run_workers(&names, |n| n.to_string(), |n| Ok(format!("{n} stopped")));
//! assert_eq!(results, [Ok("trail stopped".into()), Ok("syslog stopped".into())]);
//! ```

/// Runs `work` for each of `workers` on its own thread and waits for all:
/// their results in order (`name` names a worker whose thread panicked).
pub fn run_workers<T, W>(
    workers: &[T],
    name: impl Fn(&T) -> String,
    work: W,
) -> Vec<Result<String, String>>
where
    T: Sync,
    W: Fn(&T) -> Result<String, String> + Sync,
{
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter()
            .map(|worker| {
                let work = &work;
                scope.spawn(move || work(worker))
            })
            .collect();
        handles
            .into_iter()
            .zip(workers)
            .map(|(handle, worker)| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(format!("{} panicked", name(worker))))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_worker_is_named_and_the_others_finish() {
        let results = run_workers(
            &[1, 2, 3],
            |n| format!("worker {n}"),
            |&n| {
                if n == 2 {
                    panic!("boom");
                }
                Ok(format!("{n} done"))
            },
        );
        assert_eq!(
            results,
            [
                Ok("1 done".into()),
                Err("worker 2 panicked".into()),
                Ok("3 done".into())
            ]
        );
    }
}
