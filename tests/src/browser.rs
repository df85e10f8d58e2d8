//! A real browser for the web front end's tests: Debian's Chromium, headless, driven over
//! WebDriver by Debian's `chromedriver` (both installed by `scripts/test`; or set
//! `COURIER_CHROMIUM` and `COURIER_CHROMEDRIVER`). Each [`Page`] is a browser of its own (its own
//! profile and storage), so a customer, a shop and a rider act side by side, each signed in as
//! their role. Waiting is for what the page shows, with a deadline.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use courier_api::auth::Role;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::supervisor::{free_port, repo_root};
use crate::{DEADLINE, TestApp, poll_until};

/// A phone's screen (a common Android size, in CSS pixels).
pub const PHONE: (u32, u32) = (412, 915);
/// A laptop's, for the operator's console.
pub const DESKTOP: (u32, u32) = (1280, 900);

fn tool(variable: &str, default: &str) -> anyhow::Result<PathBuf> {
    let path: PathBuf = std::env::var_os(variable)
        .map(Into::into)
        .unwrap_or_else(|| default.into());
    anyhow::ensure!(
        path.exists(),
        "{} is not installed (scripts/test installs Debian's chromium and chromium-driver; or set {variable})",
        path.display()
    );
    Ok(path)
}

/// One `chromedriver` for a test; its browsers end with it.
pub struct Browser {
    driver: Child,
    url: String,
    chromium: PathBuf,
}

impl Browser {
    pub async fn start() -> anyhow::Result<Self> {
        let chromium = tool("COURIER_CHROMIUM", "/usr/bin/chromium")?;
        let chromedriver = tool("COURIER_CHROMEDRIVER", "/usr/bin/chromedriver")?;
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            // Its own process group, which the browsers it starts join: see `Drop`.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let status = format!("{url}/status");
        let ready = poll_until(DEADLINE, || {
            let request = http.get(&status).send();
            async move {
                Ok(match request.await {
                    Ok(response) => {
                        let body: Value = response.json().await.unwrap_or_default();
                        body["value"]["ready"].as_bool().filter(|r| *r)
                    }
                    Err(_) => None,
                })
            }
        })
        .await?;
        anyhow::ensure!(ready.is_some(), "chromedriver did not get ready on {url}");
        Ok(Self {
            driver,
            url,
            chromium,
        })
    }

    /// A new browser window of `size`, with nothing stored, reading `language` first.
    pub async fn page(&self, size: (u32, u32), language: &str) -> anyhow::Result<Page> {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium,
                // This machine's network is closed: no background connections, no sandbox (root).
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={},{}", size.0, size.1),
                    format!("--lang={language}"),
                ],
                "prefs": { "intl.accept_languages": language },
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .context("opening a Chromium session")?;
        // The window's inner size is the screen the page lays out for.
        let outer: Value = client
            .execute(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
                vec![],
            )
            .await?;
        let (dw, dh) = (
            outer[0].as_u64().unwrap_or(0),
            outer[1].as_u64().unwrap_or(0),
        );
        client
            .set_window_size(size.0 + dw as u32, size.1 + dh as u32)
            .await?;
        Ok(Page { client })
    }
}

impl Drop for Browser {
    /// Ends the driver and every browser it started, even those of a test that failed before it
    /// closed its windows (killing the driver alone would leave them running).
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

/// One browser window.
pub struct Page {
    pub client: Client,
}

impl Page {
    /// Opens the app signed in as `role` `subject`, through a sign-in link (`#/signin?token=`),
    /// as `scripts/run` prints them.
    pub async fn sign_in(&self, app: &TestApp, role: Role, subject: &str) -> anyhow::Result<()> {
        let token = app.token(role, subject);
        self.client
            .goto(&format!("{}/app/#/signin?token={token}", app.api))
            .await?;
        self.wait_for("nav a").await?;
        Ok(())
    }

    /// Chooses the language with the page's own switch (remembered for the next pages).
    pub async fn set_language(&self, language: &str) -> anyhow::Result<()> {
        self.wait_for("select#lang")
            .await?
            .select_by_value(language)
            .await?;
        self.wait_until(
            "the language switched",
            &format!("document.documentElement.lang === {}", json!(language)),
        )
        .await?;
        self.run("document.activeElement.blur()").await?;
        Ok(())
    }

    /// Goes to a screen of the app (`#/customer/orders`), without reloading the page, and waits
    /// until the app has drawn it (the move is an event the page handles after this returns).
    pub async fn open(&self, hash: &str) -> anyhow::Result<()> {
        self.client
            .execute("location.hash = arguments[0]", vec![json!(hash)])
            .await?;
        self.wait_until(
            hash,
            &format!(
                "document.querySelector('main').dataset.route === {}",
                json!(hash)
            ),
        )
        .await
    }

    /// The first element matching `css`, once there is one.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        match self
            .client
            .wait()
            .at_most(DEADLINE)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => Ok(element),
            Err(err) => {
                let shows = self.shows().await;
                bail!("waiting for {css}: {err}; the page shows {shows}")
            }
        }
    }

    /// Where the page is and what it shows, for a failure's message.
    async fn shows(&self) -> String {
        let hash = self.run("return location.hash").await.unwrap_or_default();
        let text = self.text("main").await.unwrap_or_default();
        format!("{hash}:\n{text}")
    }

    /// Waits until `script` (a JavaScript expression) is true in the page.
    pub async fn wait_until(&self, what: &str, script: &str) -> anyhow::Result<()> {
        let body = format!("return Boolean({script})");
        let done = poll_until(DEADLINE, || {
            let check = self.client.execute(&body, vec![]);
            async move { Ok(check.await?.as_bool().filter(|d| *d)) }
        })
        .await?;
        if done.is_none() {
            bail!(
                "the page never showed {what}; it shows {}",
                self.shows().await
            );
        }
        Ok(())
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Clicks the element matching `css` once there is one. A live page may draw it again
    /// between finding and clicking (a stale element): then it is found again.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.on_element(css, |element| async move { element.click().await })
            .await
    }

    /// Types into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.on_element(css, |field| async move {
            field.clear().await?;
            field.send_keys(text).await
        })
        .await
    }

    async fn on_element<F, Fut>(&self, css: &str, act: F) -> anyhow::Result<()>
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        let done = poll_until(DEADLINE, || {
            let found = self.wait_for(css);
            let act = &act;
            async move {
                match act(found.await?).await {
                    Ok(()) => Ok(Some(())),
                    Err(err) if err.to_string().contains("stale element") => Ok(None),
                    Err(err) => Err(err.into()),
                }
            }
        })
        .await?;
        anyhow::ensure!(done.is_some(), "{css} kept being drawn again");
        Ok(())
    }

    pub async fn run(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Marks the page, to show later that it was never reloaded (a reload forgets the mark).
    pub async fn mark(&self) -> anyhow::Result<()> {
        self.run("window.courierMark = 'not reloaded'").await?;
        Ok(())
    }

    pub async fn still_marked(&self) -> anyhow::Result<bool> {
        Ok(self
            .run("return window.courierMark === 'not reloaded'")
            .await?
            == json!(true))
    }

    /// Saves what the window shows as `name.png` (see [`screenshot_dir`]).
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        // Nothing is still moving (the new-order glow), so the picture is what a reader sees.
        self.run("document.getAnimations().forEach((a) => a.finish())")
            .await?;
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// Problems a reader with a screen reader, a keyboard or weak eyes would meet on the screen
    /// shown now: form fields without a label, buttons and links without a name, images without
    /// an `alt`, text whose contrast with its background is under WCAG AA (4.5:1; 3:1 for large
    /// text), and content wider than the window (a phone would scroll sideways).
    pub async fn accessibility_problems(&self) -> anyhow::Result<Vec<String>> {
        let found = self.run(ACCESSIBILITY_AUDIT).await?;
        Ok(found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// Where screenshots go: `COURIER_SCREENSHOTS_DIR`, or `.data/screenshots` (the README's pictures
/// in `docs/screenshots` are a run with `COURIER_SCREENSHOTS_DIR=docs/screenshots`).
pub fn screenshot_dir() -> PathBuf {
    match std::env::var_os("COURIER_SCREENSHOTS_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        None => repo_root().join(".data/screenshots"),
    }
}

const ACCESSIBILITY_AUDIT: &str = r#"
const problems = [];
const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.name ? '[name=' + el.name + ']' : '');
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (!visible(el)) continue;
  const named = el.labels.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  if (!named) problems.push('no label: ' + describe(el));
}
for (const el of document.querySelectorAll('button, a[href]')) {
  if (!visible(el)) continue;
  if (!(el.innerText.trim() || el.getAttribute('aria-label'))) problems.push('no name: ' + describe(el));
}
for (const el of document.querySelectorAll('img')) {
  if (!el.hasAttribute('alt')) problems.push('no alt: ' + describe(el));
}
const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
  if (el.closest('.visually-hidden, .skip, noscript, option')) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  const fg = rgb(style.color).slice(0, 3);
  const [a, b] = [luminance(fg), luminance(background(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const needed = large ? 3 : 4.5;
  const disabled = el.closest('button:disabled, input:disabled');
  if (ratio < needed && !disabled) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + needed + ': ' + describe(el) + ' "' + node.textContent.trim().slice(0, 40) + '"');
}
if (document.documentElement.scrollWidth > window.innerWidth + 1) {
  problems.push('wider than the window: ' + document.documentElement.scrollWidth + 'px > ' + window.innerWidth + 'px');
}
return problems;
"#;
