//! Any level sequence, sampled and polled at any times: the debouncer and the button logic agree
//! with a direct reading of the definition, never panic, and never emit a malformed sequence.

use std::time::{Duration, Instant};

use gpio::{
    Action, Button, ButtonConfig, ButtonEvent, ButtonTracker, Debouncer, Edge, Level, PressKind,
    Pull,
};
use proptest::prelude::*;

/// One step of a run: time passes, then the contact is sampled, or the caller only polls.
#[derive(Debug, Clone, Copy)]
enum Step {
    Sample { gap_ms: u64, pressed: bool },
    Poll { gap_ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u64..200, any::<bool>()).prop_map(|(gap_ms, pressed)| Step::Sample { gap_ms, pressed }),
        1 => (0u64..2500).prop_map(|gap_ms| Step::Poll { gap_ms }),
    ]
}

fn button() -> impl Strategy<Value = Button> {
    prop_oneof![
        Just(Button::Enroll),
        Just(Button::Pay),
        Just(Button::Cancel)
    ]
}

/// The raw samples of a run, as (time, pressed), with times made absolute.
fn samples(t0: Instant, steps: &[Step]) -> (Vec<(Instant, bool)>, Instant) {
    let mut now = t0;
    let mut out = Vec::new();
    for step in steps {
        match *step {
            Step::Sample { gap_ms, pressed } => {
                now += Duration::from_millis(gap_ms);
                out.push((now, pressed));
            }
            Step::Poll { gap_ms } => now += Duration::from_millis(gap_ms),
        }
    }
    (out, now)
}

/// The definition: the contact is as last sampled until the next sample; a run of one state
/// that lasts at least `debounce` (the last run: until `end`) and differs from the debounced
/// state becomes an edge when it has lasted `debounce`.
fn oracle_edges(
    debounce: Duration,
    t0: Instant,
    initial: bool,
    samples: &[(Instant, bool)],
    end: Instant,
) -> Vec<Edge> {
    // Maximal runs: (start, state), merging samples that repeat the current state.
    let mut runs: Vec<(Instant, bool)> = vec![(t0, initial)];
    for &(at, pressed) in samples {
        if runs.last().is_some_and(|&(_, state)| state != pressed) {
            runs.push((at, pressed));
        }
    }
    let mut stable = initial;
    let mut edges = Vec::new();
    for (i, &(start, state)) in runs.iter().enumerate() {
        let until = runs.get(i + 1).map_or(end, |&(next, _)| next);
        if state != stable && until.duration_since(start) >= debounce {
            stable = state;
            edges.push(Edge {
                pressed: state,
                at: start + debounce,
            });
        }
    }
    edges
}

/// The definition of what a button's debounced edges mean (see `gpio::button`).
fn oracle_events(
    button: Button,
    long_press: Duration,
    initial: bool,
    edges: &[Edge],
    end: Instant,
) -> Vec<ButtonEvent> {
    let short = ButtonEvent {
        button,
        action: button.short_action(),
        kind: PressKind::Short,
    };
    let long = ButtonEvent {
        button,
        action: Action::Cancel,
        kind: PressKind::Long,
    };
    let mut events = Vec::new();
    // A press already down at the start counts for nothing: skip to the first press edge.
    let skip = usize::from(initial);
    let mut rest = edges[skip.min(edges.len())..].iter();
    while let Some(press) = rest.next() {
        assert!(press.pressed, "edges alternate");
        if button == Button::Cancel {
            events.push(short);
            rest.next();
            continue;
        }
        match rest.next() {
            Some(release) if release.at.duration_since(press.at) < long_press => events.push(short),
            Some(_) => events.push(long),
            None if end.duration_since(press.at) >= long_press => events.push(long),
            None => {}
        }
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_debouncer_matches_its_definition_whenever_it_is_polled(
        debounce_ms in 0u64..80,
        initial in any::<bool>(),
        steps in prop::collection::vec(step(), 0..60),
    ) {
        let debounce = Duration::from_millis(debounce_ms);
        let t0 = Instant::now();
        let mut debouncer = Debouncer::new(debounce, t0, initial);
        let mut edges = Vec::new();
        let mut now = t0;
        for step in &steps {
            match *step {
                Step::Sample { gap_ms, pressed } => {
                    now += Duration::from_millis(gap_ms);
                    edges.extend(debouncer.sample(now, pressed));
                }
                Step::Poll { gap_ms } => {
                    now += Duration::from_millis(gap_ms);
                    edges.extend(debouncer.poll(now));
                }
            }
        }
        let end = now + Duration::from_secs(10);
        edges.extend(debouncer.poll(end));

        let (samples, _) = samples(t0, &steps);
        prop_assert_eq!(&edges, &oracle_edges(debounce, t0, initial, &samples, end));
        // Well-formed: strictly alternating, in time order, at least `debounce` apart.
        let mut state = initial;
        for pair in edges.windows(2) {
            prop_assert!(pair[1].at >= pair[0].at + debounce);
        }
        for edge in &edges {
            prop_assert_ne!(edge.pressed, state);
            state = edge.pressed;
        }
        prop_assert_eq!(debouncer.is_pressed(), state);
        prop_assert_eq!(debouncer.next_deadline(), None);
    }

    #[test]
    fn button_events_match_their_definition_and_one_press_is_one_action(
        button in button(),
        debounce_ms in 0u64..80,
        long_press_ms in 100u64..2000,
        initial in any::<bool>(),
        steps in prop::collection::vec(step(), 0..60),
    ) {
        let config = ButtonConfig {
            pin: 27,
            pull: Pull::Up,
            active: Level::Low,
            debounce: Duration::from_millis(debounce_ms),
            long_press: Duration::from_millis(long_press_ms),
        };
        let t0 = Instant::now();
        let mut tracker = ButtonTracker::new(button, &config, t0, initial);
        let mut events = Vec::new();
        let mut now = t0;
        for step in &steps {
            match *step {
                Step::Sample { gap_ms, pressed } => {
                    now += Duration::from_millis(gap_ms);
                    tracker.sample(now, pressed);
                }
                Step::Poll { gap_ms } => now += Duration::from_millis(gap_ms),
            }
            while let Some(event) = tracker.poll_event(now) {
                events.push(event);
            }
        }
        let end = now + Duration::from_secs(10);
        while let Some(event) = tracker.poll_event(end) {
            events.push(event);
        }

        let (samples, _) = samples(t0, &steps);
        let edges = oracle_edges(config.debounce, t0, initial, &samples, end);
        prop_assert_eq!(&events, &oracle_events(button, config.long_press, initial, &edges, end));
        // One press, at most one action; never the short action and Cancel for the same press.
        let presses = edges.iter().filter(|e| e.pressed).count();
        prop_assert!(events.len() <= presses);
        prop_assert!(events.iter().all(|e| e.button == button));
        let meaning_fits = |e: &ButtonEvent| match e.kind {
            PressKind::Long => e.action == Action::Cancel,
            PressKind::Short => e.action == button.short_action(),
        };
        prop_assert!(events.iter().all(meaning_fits), "{:?}", events);
        prop_assert_eq!(tracker.next_deadline(), None);
    }
}
