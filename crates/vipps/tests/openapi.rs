//! What this crate sends, checked against the official Vipps OpenAPI files.

#[path = "support/openapi.rs"]
mod openapi;

use openapi::{Specs, validate};
use serde_json::{Value, json};
use vipps::epayment::{
    Amount, BottomLine, CreatePaymentRequest, Customer, ModificationRequest, OrderLine,
    QuantityUnit, Receipt, UnitInfo,
};
use vipps::{CheckInRequest, QrExchangeRequest};

const EPAYMENT: &str = "epayment-v1.yaml";

fn nok(value: i64) -> Amount {
    Amount {
        currency: "NOK".into(),
        value,
    }
}

fn payment(customer: Customer) -> CreatePaymentRequest {
    CreatePaymentRequest::push_message(
        "lane1-20240501-000042".into(),
        nok(49_900),
        customer,
        "Purchase at Acme".into(),
    )
}

fn body<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

#[track_caller]
fn assert_valid(schema: &Value, instance: &Value) {
    if let Err(errors) = validate(schema, instance) {
        panic!("{instance:#} does not validate:\n{}", errors.join("\n"));
    }
}

#[track_caller]
fn assert_invalid(schema: &Value, instance: &Value) {
    assert!(
        validate(schema, instance).is_err(),
        "{instance:#} validates, but should not"
    );
}

#[test]
fn create_payment_with_a_phone_number() {
    let schema = Specs::load().request_body(EPAYMENT, "/epayment/v1/payments", "post");
    assert_valid(
        &schema,
        &body(&payment(Customer::PhoneNumber("4791234567".into()))),
    );
}

#[test]
fn create_payment_with_a_personal_qr() {
    let schema = Specs::load().request_body(EPAYMENT, "/epayment/v1/payments", "post");
    let qr = "https://qr.vipps.no/28/2/01/031/4791234567?v=1";
    assert_valid(&schema, &body(&payment(Customer::PersonalQr(qr.into()))));
}

#[test]
fn create_payment_with_a_receipt() {
    let schema = Specs::load().request_body(EPAYMENT, "/epayment/v1/payments", "post");
    let mut request = payment(Customer::PhoneNumber("4791234567".into()));
    request.receipt = Some(Receipt {
        order_lines: vec![
            OrderLine {
                name: "Coffee".into(),
                id: "7038010000034".into(),
                total_amount: 39_900,
                total_amount_excluding_tax: 31_920,
                total_tax_amount: 7_980,
                tax_percentage: 25,
                unit_info: Some(UnitInfo {
                    unit_price: 13_300,
                    quantity: "3".into(),
                    quantity_unit: Some(QuantityUnit::Pcs),
                }),
                discount: Some(0),
                is_return: None,
            },
            OrderLine {
                name: "Apples".into(),
                id: "2000000000015".into(),
                total_amount: 10_000,
                total_amount_excluding_tax: 8_850,
                total_tax_amount: 1_150,
                tax_percentage: 15,
                unit_info: Some(UnitInfo {
                    unit_price: 4_000,
                    quantity: "2.5".into(),
                    quantity_unit: Some(QuantityUnit::Kg),
                }),
                discount: None,
                is_return: Some(false),
            },
        ],
        bottom_line: BottomLine {
            currency: "NOK".into(),
            pos_id: Some("lane1".into()),
            receipt_number: Some("000042".into()),
            tip_amount: None,
        },
    });
    request.metadata = Some([("lane".to_owned(), "lane1".to_owned())].into());
    assert_valid(&schema, &body(&request));
}

#[test]
fn invalid_payment_requests_are_rejected_by_the_validator() {
    let schema = Specs::load().request_body(EPAYMENT, "/epayment/v1/payments", "post");
    let valid = body(&payment(Customer::PhoneNumber("4791234567".into())));
    assert_valid(&schema, &valid);

    let mut missing_amount = valid.clone();
    missing_amount
        .as_object_mut()
        .expect("object")
        .remove("amount");
    assert_invalid(&schema, &missing_amount);

    let mut two_customers = valid.clone();
    two_customers["customer"]["personalQr"] = json!("https://qr.vipps.no/p/abcdef");
    assert_invalid(&schema, &two_customers);

    let mut plus_number = valid.clone();
    plus_number["customer"]["phoneNumber"] = json!("+4791234567");
    assert_invalid(&schema, &plus_number);

    let mut bad_reference = valid.clone();
    bad_reference["reference"] = json!("no spaces allowed");
    assert_invalid(&schema, &bad_reference);

    let mut bad_currency = valid;
    bad_currency["amount"]["currency"] = json!("SEK");
    assert_invalid(&schema, &bad_currency);
}

#[test]
fn capture_and_refund_bodies() {
    let specs = Specs::load();
    let amount = nok(49_900);
    let request = body(&ModificationRequest {
        modification_amount: &amount,
    });
    for action in ["capture", "refund"] {
        let path = format!("/epayment/v1/payments/{{reference}}/{action}");
        let schema = specs.request_body(EPAYMENT, &path, "post");
        assert_valid(&schema, &request);
        assert_invalid(&schema, &json!({"amount": {"currency": "NOK", "value": 1}}));
        assert_invalid(
            &schema,
            &json!({"modificationAmount": {"currency": "NOK", "value": -1}}),
        );
    }
}

#[test]
fn qr_exchange_body() {
    let schema = Specs::load().request_body("qr.yaml", "/v1/exchange", "post");
    assert_valid(
        &schema,
        &body(&QrExchangeRequest::msisdn(
            "https://qr.vipps.no/p/qwjhewqhueheuqwhuqwhe",
        )),
    );
    assert_invalid(&schema, &json!({"requestedData": ["MSISDN"]}));
    assert_invalid(
        &schema,
        &json!({"qrCode": "https://qr.vipps.no/p/x", "requestedData": ["NAME"]}),
    );
}

#[test]
fn check_in_body() {
    let schema = Specs::load().request_body("check-in.yaml", "/v1/loyalty-check-in", "post");
    assert_valid(
        &schema,
        &body(&CheckInRequest {
            phone_number: "4791234567",
            is_member: true,
        }),
    );
    assert_invalid(
        &schema,
        &json!({"phoneNumber": "4512345678", "isMember": true}),
    );
    assert_invalid(&schema, &json!({"phoneNumber": "4791234567"}));
}

#[test]
fn nullable_and_cross_file_references_are_resolved() {
    // A receipt with an explicit null where Order Management allows one (nullable), inside
    // epayment-v1.yaml's reference to ./order-management.yaml.
    let schema = Specs::load().request_body(EPAYMENT, "/epayment/v1/payments", "post");
    let mut request = body(&payment(Customer::PhoneNumber("4791234567".into())));
    request["receipt"] = json!({
        "orderLines": [{
            "name": "Coffee", "id": "1", "totalAmount": 100, "totalAmountExcludingTax": 80,
            "totalTaxAmount": 20, "taxPercentage": 25, "discount": null
        }],
        "bottomLine": {"currency": "NOK", "posId": null}
    });
    assert_valid(&schema, &request);
    request["receipt"]["orderLines"][0]["taxPercentage"] = json!(101);
    assert_invalid(&schema, &request);
    request["receipt"]["orderLines"] = json!([]);
    assert_invalid(&schema, &request);
}
