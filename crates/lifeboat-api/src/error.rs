//! The one error type that crosses to the UI: a code where the UI branches,
//! and a message that says what went wrong and what to do.

use lifeboat_core::Error;
use serde::Serialize;
use ts_rs::TS;

/// Only the cases the UI treats differently have their own code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    WrongPassphrase,
    WrongRecoveryKit,
    NotARepository,
    AlreadyExists,
    /// A job needs an open repository and none is.
    NoRepositoryOpen,
    Locked,
    Cancelled,
    InvalidInput,
    /// A restore's target is not safe to write (not empty, older server):
    /// the UI asks for the database's name typed out.
    RestoreRefused,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field the message is about (`invalid_input` only), as
    /// the request names it: the form shows the message beside that field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidInput, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::WrongPassphrase => ErrorCode::WrongPassphrase,
            Error::WrongRecoveryKit | Error::InvalidRecoveryKit(_) => ErrorCode::WrongRecoveryKit,
            Error::NotARepository(_) => ErrorCode::NotARepository,
            Error::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Error::Locked { .. } => ErrorCode::Locked,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::RestoreRefused(_) => ErrorCode::RestoreRefused,
            Error::InvalidInput(_) | Error::InvalidField { .. } | Error::KeySlotNotFound(_) | Error::LastKeySlot => ErrorCode::InvalidInput,
            _ => ErrorCode::Other,
        };
        let field = match &error {
            Error::InvalidField { field, .. } => Some(field.to_string()),
            _ => None,
        };
        ApiError {
            field,
            ..ApiError::new(code, error.to_string())
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
