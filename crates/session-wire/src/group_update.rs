//! The protobufs of groups v2 control and group messages (`SessionProtos.proto`'s
//! `DataMessage.groupUpdateMessage` and its parts), declared apart from [`crate::protos`] so the
//! 1:1 types stay as they are: [`GroupContent`] decodes any `Content` (unknown fields are
//! skipped) and reads only what groups need.

use prost::Message as _;

use crate::error::WireError;
use crate::protos::LokiProfile;

/// `Content` as groups read it: its data message only.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupContent {
    /// The data message.
    #[prost(message, optional, tag = "1")]
    pub data_message: Option<GroupDataMessage>,
}

/// `DataMessage` with the group fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupDataMessage {
    /// The text of a visible message.
    #[prost(string, optional, tag = "1")]
    pub body: Option<String>,
    /// The sender's timestamp in milliseconds.
    #[prost(uint64, optional, tag = "7")]
    pub timestamp: Option<u64>,
    /// The sender's profile.
    #[prost(message, optional, tag = "101")]
    pub profile: Option<LokiProfile>,
    /// A groups v2 control message.
    #[prost(message, optional, tag = "120")]
    pub group_update_message: Option<GroupUpdateMessage>,
}

/// `GroupUpdateMessage`: one of the control messages.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdateMessage {
    /// An invitation (sent 1:1 to the invitee).
    #[prost(message, optional, tag = "1")]
    pub invite_message: Option<GroupUpdateInviteMessage>,
    /// A promotion to admin (sent 1:1: it carries the group's seed).
    #[prost(message, optional, tag = "4")]
    pub promote_message: Option<GroupUpdatePromoteMessage>,
    /// A member says it leaves (sent to the group).
    #[prost(message, optional, tag = "5")]
    pub member_left_message: Option<GroupUpdateMemberLeftMessage>,
    /// An invitee accepts or declines (sent to the group).
    #[prost(message, optional, tag = "6")]
    pub invite_response: Option<GroupUpdateInviteResponseMessage>,
}

/// `GroupUpdateInviteMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdateInviteMessage {
    /// The group's ID, `03` + 64 hex characters.
    #[prost(string, required, tag = "1")]
    pub group_session_id: String,
    /// The group's name.
    #[prost(string, required, tag = "2")]
    pub name: String,
    /// The invitee's 100-byte subaccount authentication data.
    #[prost(bytes = "vec", required, tag = "3")]
    pub member_auth_data: Vec<u8>,
    /// The group's signature of `"INVITE" || invitee Account ID || timestamp`.
    #[prost(bytes = "vec", required, tag = "4")]
    pub admin_signature: Vec<u8>,
}

/// `GroupUpdatePromoteMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdatePromoteMessage {
    /// The group's 32-byte Ed25519 seed.
    #[prost(bytes = "vec", required, tag = "1")]
    pub group_identity_seed: Vec<u8>,
    /// The group's name.
    #[prost(string, required, tag = "2")]
    pub name: String,
}

/// `GroupUpdateMemberLeftMessage` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdateMemberLeftMessage {}

/// `GroupUpdateInviteResponseMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdateInviteResponseMessage {
    /// Accepted (true) or declined.
    #[prost(bool, required, tag = "1")]
    pub is_approved: bool,
}

impl GroupContent {
    /// A content holding only `update`, sent at `timestamp_ms`.
    pub fn control(update: GroupUpdateMessage, timestamp_ms: u64) -> Self {
        Self {
            data_message: Some(GroupDataMessage {
                body: None,
                timestamp: Some(timestamp_ms),
                profile: None,
                group_update_message: Some(update),
            }),
        }
    }

    /// A visible message with `text`, from `display_name`.
    pub fn text(text: &str, display_name: Option<&str>, timestamp_ms: u64) -> Self {
        Self {
            data_message: Some(GroupDataMessage {
                body: Some(text.to_owned()),
                timestamp: Some(timestamp_ms),
                profile: display_name.map(|name| LokiProfile {
                    display_name: Some(name.to_owned()),
                    profile_picture: None,
                }),
                group_update_message: None,
            }),
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        Self::decode(bytes).map_err(|e| WireError::Protobuf {
            what: "Content",
            reason: e.to_string(),
        })
    }
}
