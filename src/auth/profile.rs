//! The trusted profile a grant names: by id, by CRN, or by name (with the
//! account for the assume grant). Each kind of credential has its own rule
//! for which combinations it takes (see `container`, `assume`, `vpc`).

use super::source::Canonical;
use crate::error::{Error, Result};

/// A trusted profile as the caller names it (the JS `iamProfileId`,
/// `iamProfileCrn`, `iamProfileName`, `iamAccountId`). Empty strings count
/// as absent, as in ibm-cloud-sdk-core.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileOptions {
    pub id: Option<String>,
    pub crn: Option<String>,
    pub name: Option<String>,
    pub account: Option<String>,
}

/// Which way a profile is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Id,
    Crn,
    Name,
}

impl By {
    /// The IAM form field.
    pub fn form_field(self) -> &'static str {
        match self {
            By::Id => "profile_id",
            By::Crn => "profile_crn",
            By::Name => "profile_name",
        }
    }

    /// The field of the VPC metadata service's `trusted_profile` object.
    pub fn json_field(self) -> &'static str {
        match self {
            By::Id => "id",
            By::Crn => "crn",
            By::Name => "name",
        }
    }
}

fn set(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ProfileOptions {
    /// The selectors given, in the order IAM's form takes them (name, id,
    /// crn: ibm-cloud-sdk-core's order for the cr-token grant).
    pub fn given(&self) -> Vec<(By, String)> {
        [
            (By::Name, set(&self.name)),
            (By::Id, set(&self.id)),
            (By::Crn, set(&self.crn)),
        ]
        .into_iter()
        .filter_map(|(b, v)| v.map(|v| (b, v)))
        .collect()
    }

    pub fn account(&self) -> Option<String> {
        set(&self.account)
    }

    /// At most one selector (`what` names the authenticator).
    pub fn at_most_one(&self, what: &str) -> Result<Option<(By, String)>> {
        let mut g = self.given();
        if g.len() > 1 {
            return Err(Error::invalid(format!(
                "{what} takes at most one of iamProfileId, iamProfileCrn and iamProfileName"
            )));
        }
        Ok(g.pop())
    }
}

/// Adds the selectors to a cache key.
pub fn canonical(mut c: Canonical, sel: &[(By, String)], account: Option<&str>) -> Canonical {
    for (b, v) in sel {
        c = c.part(b.form_field(), Some(v));
    }
    c.part("account", account)
}
