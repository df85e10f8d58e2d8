//! The benchmark's quick mode, in the test command: a few orders through a real Courier (the
//! end-to-end harness: real Temporal, Postgres, payment sandbox) and through the lean saga on the
//! same server. It asserts that every phase ran and reported, never how fast.

use courier_bench::courier::Courier;
use courier_bench::lean::LeanWorker;
use courier_bench::report::{Context, markdown};
use courier_bench::{Config, Systems, plot, run};
use courier_tests::{JWT_SECRET, OPERATOR_TOKEN, TestApp, temporal_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_benchmark_runs_every_phase_against_courier_and_the_ceiling() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    // Workflow ids of the lean saga are named after the run: a new one for every test run.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let courier = Courier::new(
        app.http.clone(),
        &app.api,
        Some(OPERATOR_TOKEN.to_owned()),
        JWT_SECRET.to_owned(),
        run_id.clone(),
    );
    courier.prepare(&app.db, 8).await?;
    let task_queue = format!("{}-lean", app.task_queue);
    let worker = LeanWorker::start(temporal_client().await?, task_queue.clone());
    let systems = Systems {
        courier,
        ceilings: courier_bench::run::ceilings(&app.temporal, &task_queue, &run_id),
        temporal: app.temporal.clone(),
    };
    let config = Config::quick(vec![("self".to_owned(), std::process::id())]);
    let report = run(&config, &systems).await?;
    worker.stop()?;

    assert_eq!(report.levels.len(), 2);
    for level in &report.levels {
        let names: Vec<&str> = level.systems.iter().map(|s| s.system.as_str()).collect();
        assert_eq!(
            names,
            [
                "Courier",
                "lean saga, activities",
                "lean saga, local activities"
            ]
        );
        for system in &level.systems {
            assert_eq!(system.lifecycles_failed, 0, "{system:#?}");
            let steps: Vec<&str> = system.lifecycle.iter().map(|r| r.step.as_str()).collect();
            for step in [
                "place", "accept", "ready", "pickup", "deliver", "cancel", "reject",
            ] {
                assert!(
                    steps.contains(&step),
                    "{} lacks {step}: {steps:?}",
                    system.system
                );
            }
            let errors: u64 = system
                .lifecycle
                .iter()
                .chain(&system.placement)
                .map(|r| r.errors)
                .sum();
            assert_eq!(errors, 0, "{system:#?}");
            assert!(system.placement_per_sec > 0.0 && system.lifecycles_per_sec > 0.0);
            assert_eq!(
                system.cpu_per_lifecycle.len(),
                1,
                "the CPU of this process was read"
            );
        }
        let courier = &level.systems[0];
        let place = courier
            .lifecycle
            .iter()
            .find(|r| r.step == "place")
            .unwrap();
        assert!(
            place.lag_p99_ms.is_some(),
            "the read-model lag was measured"
        );
    }
    let reads: Vec<(&str, u64, u64)> = report
        .reads
        .iter()
        .map(|r| (r.step.as_str(), r.count, r.errors))
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(
        reads.iter().all(|(_, n, errors)| *n > 0 && *errors == 0),
        "{reads:?}"
    );
    assert_eq!(
        report.events_per_order.len(),
        3,
        "{:?}",
        report.events_per_order
    );
    assert!(report.events_per_order.iter().all(|(_, n)| *n > 0));

    let dir = std::env::temp_dir().join(format!("courier-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let plots = plot::write(&report, &dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    for (_, file) in &plots {
        let svg = std::fs::read_to_string(dir.join(file))?;
        assert!(svg.starts_with("<svg") && svg.contains("Courier"), "{file}");
    }
    let text = markdown(
        &report,
        &Context {
            commit: "test".into(),
            date: "today".into(),
            machine: "this one".into(),
            server: "the test server".into(),
            config: "quick".into(),
        },
        &plots,
    );
    assert!(text.contains("## Summary") && text.contains("Temporal Query status"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
