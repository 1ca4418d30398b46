//! The statistics of a benchmark: pure functions over samples, so they can be tested alone.
//!
//! Start-up times are skewed: most runs are close to the fastest, and a few are slow because the
//! machine was busy (another process, a page-cache miss). The median is the honest "typical
//! run", the 90th percentile shows how bad the slow runs get, and the mean would let a single
//! outlier move the result, so it is not reported.

use std::time::Duration;

/// What is reported for one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub runs: usize,
    pub median: Duration,
    pub p90: Duration,
    pub min: Duration,
    pub max: Duration,
}

/// The summary of a set of samples; `None` when there are none.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    Some(Summary {
        runs: samples.len(),
        median: median(samples)?,
        p90: percentile(samples, 90.0)?,
        min: *samples.iter().min()?,
        max: *samples.iter().max()?,
    })
}

/// The middle value; with an even count, the mean of the two middle values.
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    median_of_sorted(&sorted)
}

fn median_of_sorted(sorted: &[Duration]) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2)
    }
}

/// The p-th percentile by the nearest-rank method: the smallest sample that at least p% of the
/// samples are less than or equal to. It is always one of the samples, never an interpolation.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    percentile_of_sorted(&sorted, p)
}

fn percentile_of_sorted(sorted: &[Duration], p: f64) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    // Rank 1 is the smallest sample; p = 0 means the smallest as well.
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(n) - 1])
}

/// How many times `value` is `base` (2.0 = twice as slow); `None` when the base is zero.
pub fn ratio(value: Duration, base: Duration) -> Option<f64> {
    if base.is_zero() {
        return None;
    }
    Some(value.as_secs_f64() / base.as_secs_f64())
}

/// `value - base`, or `None` when the difference would be negative (a wrapper that cost more
/// than the whole run it wraps: the machine was too noisy to tell them apart).
pub fn minus(value: Duration, base: Duration) -> Option<Duration> {
    value.checked_sub(base)
}

/// Bytes per second, in MB/s (10^6 bytes, as disks and networks count).
pub fn megabytes_per_second(bytes: u64, took: Duration) -> Option<f64> {
    if took.is_zero() {
        return None;
    }
    Some(bytes as f64 / 1e6 / took.as_secs_f64())
}

/// The order in which the configurations take their turn in round `round`: a permutation of
/// 0..count, different in every round but the same from one benchmark to the next.
///
/// Why not A B C every round: some runs leave work behind for the kernel after their process
/// has exited (a network namespace and its veth are destroyed asynchronously, by a kernel
/// worker). In a fixed order that work always lands on the same next configuration; in a
/// shuffled order every configuration gets its share.
pub fn round_order(count: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    // xorshift64, seeded by the round: enough mixing for an order, no random-number crate.
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (round as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Fisher-Yates: swap each position with a random one at or before it.
    for i in (1..count).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn the_median_is_the_middle_sample_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median(&ms(&[5, 1, 3])), Some(Duration::from_millis(3)));
        assert_eq!(
            median(&ms(&[4, 1, 3, 2])),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(median(&ms(&[7])), Some(Duration::from_millis(7)));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn one_outlier_does_not_move_the_median() {
        assert_eq!(
            median(&ms(&[10, 11, 12, 10_000, 11])),
            Some(Duration::from_millis(11))
        );
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = ms(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
        assert_eq!(percentile(&samples, 90.0), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&samples, 100.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(1)));
        // With 3 samples, 90% of them means all 3: the largest.
        assert_eq!(
            percentile(&ms(&[1, 2, 3]), 90.0),
            Some(Duration::from_millis(3))
        );
        assert_eq!(percentile(&[], 90.0), None);
        assert_eq!(percentile(&samples, 101.0), None);
    }

    #[test]
    fn a_summary_has_the_extremes_and_the_count() {
        let summary = summarize(&ms(&[30, 10, 20])).expect("three samples");
        assert_eq!(summary.runs, 3);
        assert_eq!(summary.median, Duration::from_millis(20));
        assert_eq!(summary.p90, Duration::from_millis(30));
        assert_eq!(summary.min, Duration::from_millis(10));
        assert_eq!(summary.max, Duration::from_millis(30));
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn ratios_compare_with_a_base_and_refuse_a_zero_base() {
        let ratio_of = |a, b| ratio(Duration::from_millis(a), Duration::from_millis(b));
        assert_eq!(ratio_of(30, 10), Some(3.0));
        assert_eq!(ratio_of(5, 10), Some(0.5));
        assert_eq!(ratio_of(5, 0), None);
    }

    #[test]
    fn a_wrapper_is_subtracted_only_when_it_is_smaller() {
        let d = Duration::from_millis;
        assert_eq!(minus(d(15), d(3)), Some(d(12)));
        assert_eq!(minus(d(3), d(15)), None);
    }

    #[test]
    fn throughput_is_in_megabytes_per_second() {
        assert_eq!(
            megabytes_per_second(100_000_000, Duration::from_secs(2)),
            Some(50.0)
        );
        assert_eq!(megabytes_per_second(1, Duration::ZERO), None);
    }

    #[test]
    fn every_round_runs_every_configuration_once() {
        for round in 0..20 {
            let mut order = round_order(13, round);
            order.sort();
            assert_eq!(order, (0..13).collect::<Vec<_>>());
        }
        assert_ne!(round_order(13, 0), round_order(13, 1), "the order changes");
        assert_eq!(
            round_order(13, 5),
            round_order(13, 5),
            "and is reproducible"
        );
        assert!(round_order(0, 0).is_empty());
        assert_eq!(round_order(1, 3), vec![0]);
    }
}
