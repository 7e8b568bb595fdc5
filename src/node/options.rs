//! JS option objects read into the core's option types. The type rules
//! ("options.timeoutMs must be a number") live here, once; the value rules
//! (a positive timeout, a valid URL) live in the core, once. The JS layer
//! passes the caller's objects through untouched.

use crate::auth::assume::AssumeOptions;
use crate::auth::container::ContainerOptions;
use crate::auth::cp4d::Cp4dOptions;
use crate::auth::iam::IamOptions;
use crate::auth::mcsp::McspOptions;
use crate::auth::profile::ProfileOptions;
use crate::auth::vpc::VpcOptions;
use crate::error::{Error, Result};
use crate::http::TransportOptions;
use crate::secret::Secret;
use napi::bindgen_prelude::*;

/// Reads typed properties of a JS object, naming them `<what>.<name>` in
/// errors (never quoting a value: it may be a secret).
pub(crate) struct Reader<'a> {
    obj: Object<'a>,
    what: &'static str,
}

fn napi_failed(e: napi::Error) -> Error {
    Error::internal(&format!("reading an option: {}", e.reason))
}

impl<'a> Reader<'a> {
    /// `value` must be an object (or absent: `None`).
    pub fn new(value: Option<Unknown<'a>>, what: &'static str) -> Result<Option<Reader<'a>>> {
        let Some(v) = value else { return Ok(None) };
        match v.get_type().map_err(napi_failed)? {
            ValueType::Undefined | ValueType::Null => Ok(None),
            ValueType::Object => Ok(Some(Reader {
                // SAFETY: the value was just checked to be an object.
                obj: unsafe { v.cast::<Object>() }.map_err(napi_failed)?,
                what,
            })),
            _ => Err(Error::invalid(format!("{what} must be an object"))),
        }
    }

    fn get(&self, name: &str) -> Result<Option<(Unknown<'a>, ValueType)>> {
        let v: Option<Unknown> = self.obj.get(name).map_err(napi_failed)?;
        match v {
            None => Ok(None),
            Some(v) => match v.get_type().map_err(napi_failed)? {
                ValueType::Null | ValueType::Undefined => Ok(None),
                t => Ok(Some((v, t))),
            },
        }
    }

    /// Whether `name` is there and set to `null` (as opposed to absent).
    pub fn is_null(&self, name: &str) -> Result<bool> {
        let v: Option<Unknown> = self.obj.get(name).map_err(napi_failed)?;
        match v {
            None => Ok(false),
            Some(v) => Ok(v.get_type().map_err(napi_failed)? == ValueType::Null),
        }
    }

    fn wrong(&self, name: &str, kind: &str) -> Error {
        Error::invalid(format!("{}.{name} must be {kind}", self.what))
    }

    /// `name` as a `T` when its JS type is `ty`, else "must be `kind`".
    fn typed<T: FromNapiValue>(&self, name: &str, ty: ValueType, kind: &str) -> Result<Option<T>> {
        match self.get(name)? {
            None => Ok(None),
            // SAFETY: checked to be of type `ty`, which `T` reads.
            Some((v, t)) if t == ty => unsafe { v.cast::<T>() }.map(Some).map_err(napi_failed),
            Some(_) => Err(self.wrong(name, kind)),
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<String>> {
        self.typed(name, ValueType::String, "a string")
    }

    pub fn secret(&self, name: &str) -> Result<Option<Secret>> {
        Ok(self.string(name)?.map(Secret::new))
    }

    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        self.typed(name, ValueType::Number, "a number")
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.typed(name, ValueType::Boolean, "a boolean")
    }

    /// A `{ name: value }` object of strings (headers).
    pub fn string_map(&self, name: &str) -> Result<Vec<(String, String)>> {
        let Some((v, t)) = self.get(name)? else {
            return Ok(Vec::new());
        };
        if t != ValueType::Object {
            return Err(self.wrong(name, "an object of strings"));
        }
        // SAFETY: checked to be an object.
        let obj = unsafe { v.cast::<Object>() }.map_err(napi_failed)?;
        let inner = Reader {
            obj,
            what: self.what,
        };
        let mut out = Vec::new();
        for key in Object::keys(&obj).map_err(napi_failed)? {
            match inner.string(&key) {
                Ok(Some(value)) => out.push((key, value)),
                Ok(None) => {}
                Err(_) => {
                    return Err(Error::invalid(format!(
                        "{}.{name}.{key} must be a string",
                        self.what
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// A string argument (`what` names it in the error): an API key, a
/// deployment id. Taken as any JS value so that a wrong type is our clear
/// error, not napi's (whose text would quote the value).
pub(crate) fn string_arg(v: Unknown, what: &str) -> Result<String> {
    match v.get_type().map_err(napi_failed)? {
        // SAFETY: checked to be a string.
        ValueType::String => unsafe { v.cast::<String>() }.map_err(napi_failed),
        _ => Err(Error::invalid(format!("{what} must be a non-empty string"))),
    }
}

/// The transport options every credentials or options object may carry.
pub(crate) fn transport(r: &Reader) -> Result<TransportOptions> {
    Ok(TransportOptions {
        timeout_ms: r.number("timeoutMs")?,
        max_retries: r.number("maxRetries")?,
        headers: r.string_map("headers")?,
        disable_ssl_verification: r.bool("disableSslVerification")?.unwrap_or(false),
        ca_cert: r.string("caCert")?,
        proxy: r.string("proxy")?,
    })
}

/// `IamOptions` (the IAM URL under `url_name`: `url` for the token
/// functions, `iamUrl` in WML credentials).
pub(crate) fn iam(r: Option<&Reader>, url_name: &str) -> Result<IamOptions> {
    let Some(r) = r else {
        return Ok(IamOptions::default());
    };
    Ok(IamOptions {
        url: r.string(url_name)?,
        client_id: r.string("clientId")?,
        client_secret: r.secret("clientSecret")?,
        scope: r.string("scope")?,
        transport: transport(r)?,
    })
}

/// The trusted profile options (`iamProfileId`, `iamProfileCrn`,
/// `iamProfileName`), and `iamAccountId` for the kinds that read it
/// (`account`): IamAssume uses it, VPC refuses it.
fn profile(r: &Reader, account: bool) -> Result<ProfileOptions> {
    Ok(ProfileOptions {
        id: r.string("iamProfileId")?,
        crn: r.string("iamProfileCrn")?,
        name: r.string("iamProfileName")?,
        account: if account {
            r.string("iamAccountId")?
        } else {
            None
        },
    })
}

/// `ContainerAuthenticator` options.
pub(crate) fn container(r: &Reader) -> Result<ContainerOptions> {
    Ok(ContainerOptions {
        cr_token_filename: r.string("crTokenFilename")?,
        profile: profile(r, false)?,
        iam: iam(Some(r), "url")?,
    })
}

/// `IamAssumeAuthenticator` options.
pub(crate) fn assume(r: &Reader) -> Result<AssumeOptions> {
    Ok(AssumeOptions {
        apikey: r.secret("apikey")?.unwrap_or_default(),
        profile: profile(r, true)?,
        iam: iam(Some(r), "url")?,
    })
}

/// `VpcInstanceAuthenticator` options.
pub(crate) fn vpc(r: &Reader) -> Result<VpcOptions> {
    Ok(VpcOptions {
        url: r.string("url")?,
        profile: profile(r, true)?,
        transport: transport(r)?,
    })
}

/// `CloudPakForDataAuthenticator` options.
pub(crate) fn cp4d(r: &Reader) -> Result<Cp4dOptions> {
    Ok(Cp4dOptions {
        url: r.string("url")?,
        username: r.string("username")?,
        password: r.secret("password")?,
        apikey: r.secret("apikey")?,
        transport: transport(r)?,
    })
}

/// `McspAuthenticator` options.
pub(crate) fn mcsp(r: &Reader) -> Result<McspOptions> {
    Ok(McspOptions {
        url: r.string("url")?,
        apikey: r.secret("apikey")?.unwrap_or_default(),
        transport: transport(r)?,
    })
}
