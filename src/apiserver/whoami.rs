//! `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who the
//! server takes the caller for (`kubectl auth whoami`).

use serde_json::json;

use super::request::{Reply, Request};
use super::status::Status;

/// The review of the caller, in the API version asked (v1, or the
/// v1beta1/v1alpha1 older clients post to).
pub fn review(req: &Request, version: &str) -> Result<Reply, Status> {
    if !matches!(version, "v1" | "v1beta1" | "v1alpha1") {
        return Err(Status::no_route());
    }
    // A JSON review is read as the API server reads a create's body,
    // though nothing in it changes the answer (kubectl posts protobuf,
    // which is taken unread).
    if req.header("content-type").starts_with("application/json") && !req.body.is_empty() {
        serde_json::from_slice::<serde_json::Value>(&req.body).map_err(|e| {
            Status::bad_request(format!("the body of the request could not be decoded: {e}"))
        })?;
    }
    Ok(Reply::Json {
        code: 201,
        body: json!({
            "kind": "SelfSubjectReview",
            "apiVersion": format!("authentication.k8s.io/{version}"),
            "metadata": {"creationTimestamp": null},
            "status": {
                "userInfo": {
                    "username": req.user.name,
                    "groups": req.user.groups,
                }
            },
        }),
    })
}
