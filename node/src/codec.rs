//! Byte layouts of the store's rows.
//!
//! Fixed-size rows (accounts, contracts) are plain arrays; variable-size rows (receipts) are a
//! length-prefixed sequence that is decoded with bounds checks: every length read from disk is checked
//! against the bytes that remain before anything is allocated, so a damaged row gives
//! [`StoreError::Corrupt`] instead of a panic or a huge allocation. All integers are big-endian.

use crate::StoreError;
use ruint::aliases::U256;
use zvm_ir::TrapCode;
use zvm_runtime::crypto::keccak256;
use zvm_runtime::executor::CodeFormat;
use zvm_runtime::{Address, Log, Status};

/// Bytes of an encoded account row.
pub const ACCOUNT_LEN: usize = 32 + 8 + 32;
/// Bytes of an encoded contract row.
pub const CONTRACT_LEN: usize = 1 + 20 + 8;
/// Bytes of a storage key: the address, then the slot.
pub const SLOT_KEY_LEN: usize = 20 + 32;

/// An account as the store keeps it: its code is stored once per content, by hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub balance: U256,
    pub nonce: u64,
    /// keccak256 of the code, or `None` for an account without code.
    pub code_hash: Option<[u8; 32]>,
}

impl AccountRow {
    pub fn encode(&self) -> [u8; ACCOUNT_LEN] {
        let mut out = [0u8; ACCOUNT_LEN];
        out[..32].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[32..40].copy_from_slice(&self.nonce.to_be_bytes());
        // keccak256 is never all zeros in practice (no preimage is known), so zeros mean "no code".
        if let Some(hash) = self.code_hash {
            out[40..].copy_from_slice(&hash);
        }
        out
    }

    pub fn decode(bytes: &[u8; ACCOUNT_LEN]) -> AccountRow {
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[32..40]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[40..]);
        AccountRow {
            balance: U256::from_be_slice(&bytes[..32]),
            nonce: u64::from_be_bytes(nonce),
            code_hash: (hash != [0u8; 32]).then_some(hash),
        }
    }
}

/// What the store records about a contract beyond its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractInfo {
    /// How its code is read.
    pub format: CodeFormat,
    /// The account that deployed it: the deployer of a deploy request, or the sender of the transaction
    /// (or call) in which `CREATE`/`CREATE2` made it.
    pub deployer: Address,
    /// The block (commit batch) it was created in.
    pub block: u64,
}

impl ContractInfo {
    pub fn encode(&self) -> [u8; CONTRACT_LEN] {
        let mut out = [0u8; CONTRACT_LEN];
        out[0] = match self.format {
            CodeFormat::Evm => 0,
            CodeFormat::Zvm => 1,
            CodeFormat::Wasm => 2,
        };
        out[1..21].copy_from_slice(&self.deployer.0);
        out[21..].copy_from_slice(&self.block.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8; CONTRACT_LEN]) -> Result<ContractInfo, StoreError> {
        let format = match bytes[0] {
            0 => CodeFormat::Evm,
            1 => CodeFormat::Zvm,
            2 => CodeFormat::Wasm,
            other => return Err(StoreError::Corrupt(format!("unknown code format {other} in a contract row"))),
        };
        let mut deployer = [0u8; 20];
        deployer.copy_from_slice(&bytes[1..21]);
        let mut block = [0u8; 8];
        block.copy_from_slice(&bytes[21..]);
        Ok(ContractInfo { format, deployer: Address(deployer), block: u64::from_be_bytes(block) })
    }
}

/// The durable record of one acknowledged call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The call's sequence number: calls are numbered from 1 in the order they were committed.
    pub id: u64,
    /// The block (commit batch) the call was committed in.
    pub block: u64,
    pub status: Status,
    /// Gas used, after the refund.
    pub gas_used: u64,
    /// Gas refunded (already subtracted from `gas_used`).
    pub gas_refunded: u64,
    /// Return data on success, revert data on revert.
    pub output: Vec<u8>,
    pub logs: Vec<Log>,
    /// The contract a deploy or a create transaction made.
    pub created: Option<Address>,
}

impl Receipt {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(64 + self.output.len());
        w.extend_from_slice(&self.block.to_be_bytes());
        match &self.status {
            Status::Success => w.push(0),
            Status::Revert => w.push(1),
            Status::OutOfGas => w.push(2),
            Status::Trap(code) => w.extend_from_slice(&[3, *code as u8]),
            Status::InvalidCode(why) => {
                w.push(4);
                put_bytes(&mut w, why.as_bytes());
            }
        }
        w.extend_from_slice(&self.gas_used.to_be_bytes());
        w.extend_from_slice(&self.gas_refunded.to_be_bytes());
        put_bytes(&mut w, &self.output);
        put_len(&mut w, self.logs.len());
        for log in &self.logs {
            w.extend_from_slice(&log.address.0);
            put_len(&mut w, log.topics.len());
            for topic in &log.topics {
                w.extend_from_slice(&topic.to_be_bytes::<32>());
            }
            put_bytes(&mut w, &log.data);
        }
        match self.created {
            Some(a) => {
                w.push(1);
                w.extend_from_slice(&a.0);
            }
            None => w.push(0),
        }
        w
    }

    pub fn decode(id: u64, bytes: &[u8]) -> Result<Receipt, StoreError> {
        let mut r = Reader(bytes);
        let block = r.u64()?;
        let status = match r.u8()? {
            0 => Status::Success,
            1 => Status::Revert,
            2 => Status::OutOfGas,
            3 => {
                let code = r.u8()?;
                let trap = TrapCode::ALL
                    .into_iter()
                    .find(|t| *t as u8 == code)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown trap code {code} in a receipt")))?;
                Status::Trap(trap)
            }
            4 => Status::InvalidCode(String::from_utf8_lossy(r.bytes()?).into_owned()),
            other => return Err(StoreError::Corrupt(format!("unknown status {other} in a receipt"))),
        };
        let gas_used = r.u64()?;
        let gas_refunded = r.u64()?;
        let output = r.bytes()?.to_vec();
        let count = r.len(20 + 4 + 4)?;
        let mut logs = Vec::with_capacity(count);
        for _ in 0..count {
            let address = Address(r.array()?);
            let topics = r.len(32)?;
            let topics =
                (0..topics).map(|_| r.array::<32>().map(U256::from_be_bytes::<32>)).collect::<Result<_, _>>()?;
            logs.push(Log { address, topics, data: r.bytes()?.to_vec() });
        }
        let created = match r.u8()? {
            0 => None,
            _ => Some(Address(r.array()?)),
        };
        if !r.0.is_empty() {
            return Err(StoreError::Corrupt("trailing bytes after a receipt".into()));
        }
        Ok(Receipt { id, block, status, gas_used, gas_refunded, output, logs, created })
    }
}

/// Bytes of an encoded block header ([`BlockHeader::encode`]).
pub const HEADER_LEN: usize = 32 + 8 + 8 + 8 + 8 + 32 + 32;
/// Bytes of a `blocks` row: the block's hash, then its header.
pub const BLOCK_ROW_LEN: usize = 32 + HEADER_LEN;

/// The header of a block (one commit batch), whose keccak256 is the block's hash (`BLOCKHASH`).
///
/// The encoding that is hashed is fixed (docs/node.md): the fields in this order, integers big-endian,
/// [`HEADER_LEN`] bytes. The parent hash chains the blocks, so a block's hash commits to the whole history
/// before it; the two roots commit to what the block did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The hash of block `number - 1` (zero for block 1: block 0 is the empty database, with no header).
    pub parent: [u8; 32],
    pub number: u64,
    /// The block environment's timestamp (what `TIMESTAMP` returned in the block); 0 for blocks committed
    /// before schema version 2.
    pub timestamp: u64,
    /// The id of the block's first receipt (the next receipt's id if the block has none) and how many it
    /// has: its receipts are `first_receipt .. first_receipt + receipts`.
    pub first_receipt: u64,
    pub receipts: u64,
    /// keccak256 of the concatenated [`receipt_hash`]es of the block's receipts, in order.
    pub receipts_root: [u8; 32],
    /// keccak256 of the concatenated [`changes_hash`]es of the block's receipts, in order; zero for blocks
    /// committed before schema version 2 (their changes were not recorded).
    pub changes_root: [u8; 32],
}

impl BlockHeader {
    /// The encoding that is hashed (see the type's docs).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.parent);
        out[32..40].copy_from_slice(&self.number.to_be_bytes());
        out[40..48].copy_from_slice(&self.timestamp.to_be_bytes());
        out[48..56].copy_from_slice(&self.first_receipt.to_be_bytes());
        out[56..64].copy_from_slice(&self.receipts.to_be_bytes());
        out[64..96].copy_from_slice(&self.receipts_root);
        out[96..].copy_from_slice(&self.changes_root);
        out
    }

    pub fn decode(b: &[u8; HEADER_LEN]) -> BlockHeader {
        // Every offset is within the fixed-size array.
        let word = |at: usize| -> [u8; 32] {
            let mut w = [0u8; 32];
            w.copy_from_slice(&b[at..at + 32]);
            w
        };
        let int = |at: usize| -> u64 {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[at..at + 8]);
            u64::from_be_bytes(n)
        };
        BlockHeader {
            parent: word(0),
            number: int(32),
            timestamp: int(40),
            first_receipt: int(48),
            receipts: int(56),
            receipts_root: word(64),
            changes_root: word(96),
        }
    }

    /// keccak256 of [`BlockHeader::encode`].
    pub fn hash(&self) -> [u8; 32] {
        keccak256(&self.encode())
    }

    /// The `blocks` row: the hash, then the header.
    pub fn row(&self) -> [u8; BLOCK_ROW_LEN] {
        let mut out = [0u8; BLOCK_ROW_LEN];
        out[..32].copy_from_slice(&self.hash());
        out[32..].copy_from_slice(&self.encode());
        out
    }

    /// A `blocks` row's hash and header; a hash that is not the header's is a damaged row.
    pub fn from_row(row: &[u8; BLOCK_ROW_LEN]) -> Result<([u8; 32], BlockHeader), StoreError> {
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&row[32..]);
        let header = BlockHeader::decode(&header);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&row[..32]);
        if header.hash() != hash {
            return Err(StoreError::Corrupt(format!("block {}: the stored hash is not its header's", header.number)));
        }
        Ok((hash, header))
    }
}

/// A receipt's contribution to its block's `receipts_root`: keccak256 of its id (8 bytes) and its
/// `receipts` row ([`Receipt::encode`]).
pub fn receipt_hash(id: u64, row: &[u8]) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(8 + row.len());
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(row);
    keccak256(&bytes)
}

/// A call's contribution to its block's `changes_root`: keccak256 of what it wrote besides its receipt,
/// in the order [`crate::store::StateDiff`] keeps it (sorted): each a count (4 bytes) and then the items —
/// accounts (address · 0, deleted, or 1 and the account row), code (its hash), storage (address · slot ·
/// value), contracts (address · contract row), names (length (1) · name · address).
pub fn changes_hash(diff: &crate::store::StateDiff, names: &[(String, Address)]) -> [u8; 32] {
    let mut w = Vec::with_capacity(64 + diff.accounts.len() * 93 + diff.storage.len() * 84);
    put_len(&mut w, diff.accounts.len());
    for (address, row) in &diff.accounts {
        w.extend_from_slice(&address.0);
        match row {
            Some(row) => {
                w.push(1);
                w.extend_from_slice(&row.encode());
            }
            None => w.push(0),
        }
    }
    put_len(&mut w, diff.code.len());
    for (hash, _) in &diff.code {
        w.extend_from_slice(hash);
    }
    put_len(&mut w, diff.storage.len());
    for (address, slot, value) in &diff.storage {
        w.extend_from_slice(&address.0);
        w.extend_from_slice(&slot.to_be_bytes::<32>());
        w.extend_from_slice(&value.to_be_bytes::<32>());
    }
    put_len(&mut w, diff.contracts.len());
    for (address, info) in &diff.contracts {
        w.extend_from_slice(&address.0);
        w.extend_from_slice(&info.encode());
    }
    put_len(&mut w, names.len());
    for (name, address) in names {
        // Names are at most 64 bytes (checked before a call runs).
        w.push(name.len().min(255) as u8);
        w.extend_from_slice(name.as_bytes());
        w.extend_from_slice(&address.0);
    }
    keccak256(&w)
}

/// keccak256 of the concatenation of `hashes`: a block's root over its receipts' hashes.
pub fn root(hashes: &[[u8; 32]]) -> [u8; 32] {
    keccak256(hashes.as_flattened())
}

fn put_len(w: &mut Vec<u8>, len: usize) {
    // Every length written here is of data produced by one bounded execution (gas bounds memory, and so
    // output, log data and log counts, far below 4 GiB).
    w.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_bytes(w: &mut Vec<u8>, bytes: &[u8]) {
    put_len(w, bytes.len());
    w.extend_from_slice(bytes);
}

/// A cursor over a row that fails, rather than panics or over-allocates, on a short or damaged row.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(StoreError::Corrupt("a receipt row is truncated".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A count of items of at least `min_item` bytes each, checked against the bytes left.
    fn len(&mut self, min_item: usize) -> Result<usize, StoreError> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(StoreError::Corrupt("a length in a receipt row exceeds the row".into()));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.len(1)?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            id: 7,
            block: 3,
            status: Status::Trap(TrapCode::InvalidJump),
            gas_used: 21_000,
            gas_refunded: 4_800,
            output: vec![1, 2, 3],
            logs: vec![
                Log { address: Address::from_low_u64(5), topics: vec![U256::from(1), U256::MAX], data: vec![9; 40] },
                Log { address: Address::from_low_u64(6), topics: vec![], data: vec![] },
            ],
            created: Some(Address::from_low_u64(0xc0de)),
        }
    }

    #[test]
    fn receipts_round_trip() {
        let statuses = [
            Status::Success,
            Status::Revert,
            Status::OutOfGas,
            Status::Trap(TrapCode::HostError),
            Status::InvalidCode("bad opcode".into()),
        ];
        for status in statuses {
            let r = Receipt { status, ..receipt() };
            assert_eq!(Receipt::decode(r.id, &r.encode()).unwrap(), r);
        }
        let r = Receipt { created: None, logs: vec![], ..receipt() };
        assert_eq!(Receipt::decode(r.id, &r.encode()).unwrap(), r);
    }

    #[test]
    fn damaged_receipts_are_errors_not_panics() {
        let bytes = receipt().encode();
        // Every truncation, and every single-byte change to a length field's top byte, is rejected or
        // decodes to something else, without a panic or an allocation beyond the row.
        for n in 0..bytes.len() {
            assert!(Receipt::decode(7, &bytes[..n]).is_err(), "truncated at {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] = 0xff;
            let _ = Receipt::decode(7, &b);
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(Receipt::decode(7, &long), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn account_and_contract_rows_round_trip() {
        let a = AccountRow { balance: U256::from(12345), nonce: 9, code_hash: Some([7; 32]) };
        assert_eq!(AccountRow::decode(&a.encode()), a);
        let eoa = AccountRow { code_hash: None, ..a };
        assert_eq!(AccountRow::decode(&eoa.encode()), eoa);
        let c = ContractInfo { format: CodeFormat::Zvm, deployer: Address::from_low_u64(1), block: 42 };
        assert_eq!(ContractInfo::decode(&c.encode()).unwrap(), c);
        let mut bad = c.encode();
        bad[0] = 9;
        assert!(ContractInfo::decode(&bad).is_err());
    }
}
