//! Shops and menus.

use courier_tests::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn customers_can_browse_the_demo_shops_and_their_menus() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let (status, shops) = app.get("/shops").await?;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = shops["shops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shop_id"].as_str().unwrap().to_owned())
        .collect();
    for shop in ["seoul-bloom", "napoli-oven", "halmeoni-table"] {
        assert!(
            ids.contains(&shop.to_owned()),
            "{shop} missing from {ids:?}"
        );
    }
    let (status, menu) = app.get("/shops/seoul-bloom/menu").await?;
    assert_eq!(status, StatusCode::OK);
    let roses = menu["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["menu_item_id"] == "rose-bouquet-12")
        .expect("roses");
    assert_eq!(roses["price_minor"], 45_000);
    assert_eq!(roses["currency"], "KRW");
    assert_eq!(roses["stock"], app.stock("rose-bouquet-12").await?);

    let (status, body) = app.get("/shops/no-such-shop/menu").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_shop");
    Ok(())
}
