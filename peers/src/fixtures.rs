//! Inputs for the peers, read through `zvm_statetest`'s model and setup so that every peer starts from the
//! same pre-state host and [`Transaction`].
//!
//! Two file shapes are read, both `{name: {env, pre, transaction, ...}}`:
//! - filled state tests (ethereum/tests, ipsilon/evm-benchmarks): `transaction` is a template with arrays
//!   of data, gas limits and values, and `post` lists the combinations of indexes to run, under one or more
//!   fork names. Every distinct combination, whatever its fork key, becomes one case. The forks named are
//!   not otherwise used: the peers run Cancun rules.
//! - contract fixtures (paradigmxyz/revmc `data/`): no `post`, and `transaction` is a list of transactions
//!   with single `data`, `gasLimit` and `value`. The first one is the case. It is rewritten as a template
//!   with one-element arrays (and `accessList` as `accessLists`), so the statetest model reads it unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use thiserror::Error;
use zvm_runtime::tx::Transaction;
use zvm_runtime::InMemoryHost;
use zvm_statetest::model::{Addr, Env, Indexes, PreAccount, StateTest, TxTemplate};
use zvm_statetest::setup::{self, SetupError};

/// One transaction to run, and the state it runs on.
#[derive(Clone, Debug)]
pub struct Case {
    /// `file/test` for a fixture, `file/test d=.. g=.. v=..` for a state test.
    pub name: String,
    /// The pre-state and block.
    pub pre: InMemoryHost,
    pub tx: Transaction,
}

/// Why a file could not be read as cases.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}: test `{test}`: {source}")]
    Setup { path: String, test: String, source: SetupError },
}

/// A test as it stands in a file: `post` is optional and `transaction` is kept raw until its shape is known.
#[derive(serde::Deserialize)]
struct RawTest {
    env: Env,
    pre: BTreeMap<Addr, PreAccount>,
    transaction: serde_json::Value,
    #[serde(default)]
    post: BTreeMap<String, Vec<RawPost>>,
}

#[derive(serde::Deserialize)]
struct RawPost {
    indexes: Indexes,
}

/// A single transaction (as the contract fixtures list them) rewritten as a one-case template.
fn as_template(tx: serde_json::Value) -> Result<serde_json::Value, String> {
    let serde_json::Value::Object(mut fields) = tx else { return Err("a transaction is not an object".into()) };
    for key in ["data", "gasLimit", "value"] {
        if let Some(v) = fields.remove(key) {
            fields.insert(key.into(), serde_json::Value::Array(vec![v]));
        }
    }
    if let Some(list) = fields.remove("accessList") {
        fields.insert("accessLists".into(), serde_json::Value::Array(vec![list]));
    }
    Ok(serde_json::Value::Object(fields))
}

/// Every case of a state-test or contract-fixture file, in the file's order of tests and of indexes.
pub fn load_cases(path: &Path) -> Result<Vec<Case>, LoadError> {
    let shown = path.display().to_string();
    let format = |message: String| LoadError::Format { path: shown.clone(), message };
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: shown.clone(), source })?;
    let file: BTreeMap<String, RawTest> = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let stem = path.file_stem().map_or_else(|| shown.clone(), |s| s.to_string_lossy().into_owned());
    let mut cases = Vec::new();
    for (name, raw) in file {
        let (transaction, indexes) = match raw.transaction {
            serde_json::Value::Array(mut txs) => {
                if txs.is_empty() {
                    return Err(format(format!("test `{name}` has no transaction")));
                }
                (as_template(txs.swap_remove(0)).map_err(&format)?, vec![Indexes::default()])
            }
            template => {
                let indexes: BTreeSet<Indexes> = raw.post.values().flatten().map(|p| p.indexes).collect();
                let indexes = if indexes.is_empty() { vec![Indexes::default()] } else { indexes.into_iter().collect() };
                (template, indexes)
            }
        };
        let transaction: TxTemplate =
            serde_json::from_value(transaction).map_err(|e| format(format!("test `{name}`: {e}")))?;
        let test = StateTest { env: raw.env, pre: raw.pre, transaction, post: BTreeMap::new() };
        let setup_err = |source| LoadError::Setup { path: shown.clone(), test: name.clone(), source };
        let pre = setup::pre_state(&test).map_err(setup_err)?;
        let single = indexes.len() == 1 && indexes[0] == Indexes::default();
        for index in indexes {
            let tx = setup::transaction(&test, index).map_err(setup_err)?;
            let name = if single { format!("{stem}/{name}") } else { format!("{stem}/{name} {index}") };
            cases.push(Case { name, pre: pre.clone(), tx });
        }
    }
    Ok(cases)
}
