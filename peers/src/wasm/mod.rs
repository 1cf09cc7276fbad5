//! WebAssembly differential testing: generated modules on zvm's interpreter, zvm's JIT and wasmi.
//!
//! [`check`] reads a module from bytes with wasm-smith ([`generate`]), configured for what zvm accepts
//! (WebAssembly 2.0 without SIMD, no imports, one small 32-bit memory), loads it on every tier of
//! [`TIERS`](crate::TIERS) with the default metered [`WasmConfig`] and in wasmi, instantiates it everywhere,
//! then calls every exported function a few times with arguments derived from the input, on the same
//! instances one call after the other (so calls see each other's memory and globals). After the
//! instantiation and after every call:
//!
//! - zvm's tiers must agree exactly: results or trap or out of gas, gas used, the whole memory, every
//!   global, the dropped data segments.
//! - zvm must agree with wasmi: results (integers bit for bit, floats too except that any two NaNs are
//!   equal), trap or not and which trap, every exported global, and the whole memory when it is exported.
//!
//! Some differences are not bugs, and are counted as skips (by reason) instead: running out of gas (zvm) or
//! fuel (wasmi), whose costs differ; call-stack exhaustion on one side only; a module that zvm reports
//! [`WasmError::Unsupported`] (the generator allows tables in half the modules, which zvm refused before it
//! ran tables; anything zvm refuses in the future shows up as such a skip); and a difference in a module
//! where a NaN whose bits the specification leaves open can reach memory or an integer
//! ([`ModuleInfo::nan_bits_observable`]). After such a skip the two sides may hold different state, so the
//! module is instantiated afresh everywhere and the calls go on from there.
//!
//! A real difference is a [`Failure`]: what differs, the calls made so far, a listing of the module and
//! its binary in hex.

pub mod generate;
pub mod info;
pub mod wasmi_peer;

use crate::compare::TIERS;
pub use generate::{generate, seed_bytes, Generated};
pub use info::{dump, ModuleInfo, Ty};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use wasmi_peer::{NoInstance, WasmiPeer};
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig, WasmError};
use zvm_runtime::wasm::{InvokeError, WasmInstance, WasmLoadError, WasmProgram};
use zvm_runtime::Limits;

/// How much to run per module.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Gas of each zvm invocation (and of the instantiation), and fuel of each wasmi call.
    pub gas: u64,
    /// Calls of each exported function, each with other arguments.
    pub rounds: usize,
    /// Most calls per module.
    pub max_calls: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { gas: 1_000_000, rounds: 3, max_calls: 48 }
    }
}

/// A trap, in terms both engines map to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trap {
    Unreachable,
    IntegerOverflow,
    IntegerDivByZero,
    BadConversion,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    CallStackExhausted,
    /// A zvm trap no WebAssembly trap corresponds to (by its name).
    Other(String),
}

impl Trap {
    /// zvm's trap, by its name (`TrapCode::name`; names zvm may add later are guessed from their words).
    pub fn of_zvm(name: &str) -> Trap {
        match name {
            "unreachable" => Trap::Unreachable,
            "int_overflow" => Trap::IntegerOverflow,
            "int_divz" => Trap::IntegerDivByZero,
            "bad_conversion" => Trap::BadConversion,
            "heap_oob" => Trap::MemoryOutOfBounds,
            "call_stack_exhausted" => Trap::CallStackExhausted,
            // `table.*` out of bounds, and `call_indirect` past the table's end (wasmi has one code for both).
            "table_oob" | "undefined_element" => Trap::TableOutOfBounds,
            "uninitialized_element" => Trap::IndirectCallToNull,
            "indirect_call_type" => Trap::BadSignature,
            n if n.contains("null") || n.contains("uninit") => Trap::IndirectCallToNull,
            n if n.contains("sig") || n.contains("mismatch") => Trap::BadSignature,
            n if n.contains("table") || n.contains("elem") || n.contains("undefined") => Trap::TableOutOfBounds,
            n => Trap::Other(n.to_string()),
        }
    }
}

/// A value, as compared.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    /// A reference: whether it is non-null (function references have no common identity).
    Ref(bool),
}

impl Value {
    /// The value of type `ty` with bit pattern `bits` (zvm's representation; references are 0 when null).
    pub fn from_bits(ty: Ty, bits: u64) -> Value {
        match ty {
            Ty::I32 => Value::I32(bits as u32),
            Ty::I64 => Value::I64(bits),
            Ty::F32 => Value::F32(bits as u32),
            Ty::F64 => Value::F64(bits),
            Ty::FuncRef | Ty::ExternRef => Value::Ref(bits != 0),
        }
    }

    /// Equal bits, or both NaN.
    pub fn same(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::F32(a), Value::F32(b)) => a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan()),
            (Value::F64(a), Value::F64(b)) => a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan()),
            (a, b) => a == b,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::I32(x) => write!(f, "i32:{:#x}", x),
            Value::I64(x) => write!(f, "i64:{:#x}", x),
            Value::F32(x) => write!(f, "f32:{:#x}({:?})", x, f32::from_bits(x)),
            Value::F64(x) => write!(f, "f64:{:#x}({:?})", x, f64::from_bits(x)),
            Value::Ref(false) => f.write_str("ref:null"),
            Value::Ref(true) => f.write_str("ref:non-null"),
        }
    }
}

/// How an invocation (or instantiation) ended.
#[derive(Clone, Debug)]
pub enum Ending {
    Returned(Vec<Value>),
    Trapped(Trap),
    /// Out of gas (zvm) or fuel (wasmi).
    OutOfGas,
    /// Anything else (an embedding error, not a WebAssembly outcome).
    Unexpected(String),
}

impl Ending {
    fn same(&self, other: &Ending) -> bool {
        match (self, other) {
            (Ending::Returned(a), Ending::Returned(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y)),
            (Ending::Trapped(a), Ending::Trapped(b)) => a == b,
            _ => false,
        }
    }

    /// A short name of the kind of ending, for the counts.
    fn kind(&self) -> String {
        match self {
            Ending::Returned(_) => "returned".into(),
            Ending::Trapped(t) => format!("trap {t:?}"),
            Ending::OutOfGas => "out of gas".into(),
            Ending::Unexpected(_) => "unexpected".into(),
        }
    }

    fn of_zvm(r: &Result<Vec<u64>, InvokeError>, results: &[Ty]) -> Ending {
        match r {
            Ok(bits) if bits.len() == results.len() => {
                Ending::Returned(results.iter().zip(bits).map(|(&t, &b)| Value::from_bits(t, b)).collect())
            }
            Ok(bits) => Ending::Unexpected(format!("{} results for {} result types", bits.len(), results.len())),
            Err(InvokeError::Trap(code)) => Ending::Trapped(Trap::of_zvm(code.name())),
            Err(InvokeError::OutOfGas) => Ending::OutOfGas,
            Err(e) => Ending::Unexpected(e.to_string()),
        }
    }
}

/// What one module gave: counts of calls and of skips by reason.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The module loaded on zvm (was not skipped as a whole).
    pub ran: bool,
    /// Its exported functions (if it ran).
    pub funcs: u64,
    /// Invocations (the instantiation included) on which zvm's tiers were compared.
    pub zvm_calls: u64,
    /// Invocations (the instantiation included) also compared with wasmi.
    pub wasmi_compared: u64,
    /// Fresh instantiations after a skipped comparison.
    pub restarts: u64,
    /// Skipped modules (`module: ...`) and skipped wasmi comparisons (`call: ...`), by reason.
    pub skipped: BTreeMap<String, u64>,
    /// How the zvm invocations ended (`returned`, `trap Unreachable`, `out of gas`, ...).
    pub endings: BTreeMap<String, u64>,
    /// The differences skipped because NaN bits may legitimately differ, to check that they do.
    pub nan_skips: Vec<String>,
}

impl Outcome {
    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_insert(0) += 1;
    }
}

/// Counts over many modules.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub modules: u64,
    pub modules_run: u64,
    /// Exported functions of the modules run.
    pub funcs: u64,
    pub zvm_calls: u64,
    pub wasmi_compared: u64,
    pub restarts: u64,
    pub skipped: BTreeMap<String, u64>,
    pub endings: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        self.modules += 1;
        self.modules_run += u64::from(o.ran);
        self.funcs += o.funcs;
        self.zvm_calls += o.zvm_calls;
        self.wasmi_compared += o.wasmi_compared;
        self.restarts += o.restarts;
        for (k, n) in &o.skipped {
            *self.skipped.entry(k.clone()).or_insert(0) += n;
        }
        for (k, n) in &o.endings {
            *self.endings.entry(k.clone()).or_insert(0) += n;
        }
    }

    /// Skipped modules or calls whose reason starts with `prefix`.
    pub fn skipped_with(&self, prefix: &str) -> u64 {
        self.skipped.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} modules generated, {} run on zvm ({} exported functions); {} invocations (instantiations \
             included) compared between zvm interp and jit (gas included), {} of them with wasmi; {} fresh \
             instantiations after a skip",
            self.modules, self.modules_run, self.funcs, self.zvm_calls, self.wasmi_compared, self.restarts
        )?;
        writeln!(f, "skipped:")?;
        for (k, n) in &self.skipped {
            writeln!(f, "  {n:>7}  {k}")?;
        }
        writeln!(f, "zvm endings:")?;
        for (k, n) in &self.endings {
            writeln!(f, "  {n:>7}  {k}")?;
        }
        Ok(())
    }
}

/// A difference: what differs, the calls made before, and the module.
#[derive(Clone, Debug)]
pub struct Failure {
    pub message: String,
    /// The invocations made, in order (the last one differs).
    pub calls: Vec<String>,
    pub bytes: Vec<u8>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        writeln!(f, "invocations (in order, on one instance):")?;
        for c in &self.calls {
            writeln!(f, "  {c}")?;
        }
        writeln!(f, "module listing:\n{}", dump(&self.bytes))?;
        writeln!(f, "module binary ({} bytes, hex):\n{}", self.bytes.len(), info::hex(&self.bytes))
    }
}

/// The memory limit both engines run with (zvm's default).
fn limits() -> Limits {
    Limits::default()
}

/// A short, stable reason for an unsupported-module skip: the frontend's message without the function
/// index and operator details.
fn unsupported_key(message: &str) -> String {
    let m = message.split_once(": ").filter(|(head, _)| head.starts_with("function ")).map_or(message, |(_, m)| m);
    m.split([' ', '{']).take(3).collect::<Vec<_>>().join(" ").trim().to_string()
}

/// Generates the module `data` describes and runs it on zvm's tiers and on wasmi (see the module docs).
pub fn check(data: &[u8], settings: &Settings) -> Result<Outcome, Failure> {
    check_with(data, settings, &wasmi_peer::engine())
}

/// [`check`] with a wasmi engine made once ([`wasmi_peer::engine`]) for many modules.
pub fn check_with(data: &[u8], settings: &Settings, engine: &wasmi::Engine) -> Result<Outcome, Failure> {
    let generated = match generate(data) {
        Ok(g) => g,
        Err(e) => {
            let mut out = Outcome::default();
            out.skip(format!("module: generator: {e}"));
            return Ok(out);
        }
    };
    check_generated(&generated, settings, engine)
}

/// Runs one generated module; see [`check`].
///
/// Runs on a thread of its own with a [`STACK_BYTES`] stack: wasmi's dispatch by tail calls (optimized builds)
/// still takes a native stack frame per execution of some operators (`memory.grow` in a loop, at least in
/// wasmi 2.0.0), so a loop that runs until the fuel is gone needs far more than a test thread's 2 MiB. (Only
/// the pages touched are ever committed.)
pub fn check_generated(g: &Generated, settings: &Settings, engine: &wasmi::Engine) -> Result<Outcome, Failure> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new().name("wasm differential".into()).stack_size(STACK_BYTES);
        let handle = thread
            .spawn_scoped(scope, || {
                let mut run = Run { g, settings, out: Outcome::default(), calls: Vec::new() };
                match run.go(engine) {
                    Ok(()) => Ok(run.out),
                    Err(message) => Err(Failure { message, calls: run.calls, bytes: g.bytes.clone() }),
                }
            })
            .expect("cannot start a thread");
        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Stack of the thread [`check_generated`] runs a module on.
pub const STACK_BYTES: usize = 1 << 30;

struct Run<'a> {
    g: &'a Generated,
    settings: &'a Settings,
    out: Outcome,
    calls: Vec<String>,
}

/// What a comparison with wasmi concluded.
enum Verdict {
    Agree,
    Skip(&'static str),
}

impl Run<'_> {
    fn go(&mut self, engine: &wasmi::Engine) -> Result<(), String> {
        let info = ModuleInfo::parse(&self.g.bytes, self.g.canonical_nans)
            .map_err(|e| format!("the harness cannot read the generated module: {e}"))?;
        let limits = limits();

        // Load on every tier: all must take it, or all refuse it as unsupported.
        let loads: Vec<Result<WasmProgram, WasmLoadError>> = TIERS
            .iter()
            .map(|&tier| WasmProgram::load(&self.g.bytes, tier, &WasmConfig::default(), &NoImports, &limits))
            .collect();
        let mut programs = Vec::new();
        for (tier, load) in TIERS.iter().zip(loads) {
            match load {
                Ok(p) => programs.push(Arc::new(p)),
                Err(WasmLoadError::Frontend(WasmError::Unsupported(m))) if programs.is_empty() => {
                    self.out.skip(format!("module: unsupported by zvm: {}", unsupported_key(&m)));
                    return Ok(());
                }
                Err(e) => return Err(format!("zvm ({tier:?}) does not load a valid module: {e}")),
            }
        }
        self.out.ran = true;
        self.out.funcs = info.funcs.len() as u64;

        let Some((mut zvm, mut wasmi)) = self.instantiate(&info, &programs, engine)? else { return Ok(()) };

        // Call every exported function, `rounds` times.
        let gas = self.settings.gas;
        let mut rng = generate::SplitMix64(self.g.arg_seed);
        let calls = (0..self.settings.rounds).flat_map(|_| info.funcs.iter()).take(self.settings.max_calls);
        for func in calls {
            let args: Vec<u64> = func.params.iter().map(|&t| generate::arg(&mut rng, t)).collect();
            let what = format!("{:?}({})", func.name, render_args(&func.params, &args));
            let endings: Vec<_> = zvm
                .iter_mut()
                .map(|i| {
                    let r = i.invoke(&func.name, &args, gas);
                    (r, i.gas_used())
                })
                .collect();
            let zvm_ending = Ending::of_zvm(&endings[0].0, &func.results);
            self.calls.push(format!("{what} -> {zvm_ending:?}, gas {}", endings[0].1));
            self.compare_tiers(&what, &endings, &zvm.iter().map(Some).collect::<Vec<_>>())?;
            if let Ending::Unexpected(e) = &zvm_ending {
                return Err(format!("{what}: zvm: {e}"));
            }
            *self.out.endings.entry(zvm_ending.kind()).or_insert(0) += 1;
            let Some(w) = &mut wasmi else {
                self.out.skip("call: wasmi has no instance (it rejected the module, or its instantiation was skipped)");
                continue;
            };
            let w_ending = w.call(&func.name, &func.params, &func.results, &args, gas);
            match self.verdict(&info, &what, &zvm_ending, &w_ending, Some(&zvm[0]), Some(w))? {
                Verdict::Agree => self.out.wasmi_compared += 1,
                Verdict::Skip(reason) => {
                    self.out.skip(format!("call: {reason}"));
                    // The two sides may hold different state from here: start again from fresh instances
                    // (the instantiation is deterministic, so it succeeds again).
                    self.out.restarts += 1;
                    self.calls.push("(a skip: instantiated afresh everywhere)".into());
                    let Some((z, w)) = self.instantiate(&info, &programs, engine)? else {
                        return Err("the instantiation did not succeed a second time".into());
                    };
                    (zvm, wasmi) = (z, w);
                }
            }
        }
        Ok(())
    }

    /// Instantiates the module on every tier and on wasmi and compares them; returns the instances, or
    /// `None` when the instantiation ended (a trap or no gas left) on zvm. wasmi's instance is `None` when
    /// wasmi rejects the module or when the comparison of the instantiation was skipped.
    #[allow(clippy::type_complexity)]
    fn instantiate(
        &mut self,
        info: &ModuleInfo,
        programs: &[Arc<WasmProgram>],
        engine: &wasmi::Engine,
    ) -> Result<Option<(Vec<WasmInstance>, Option<WasmiPeer>)>, String> {
        let (gas, limits) = (self.settings.gas, limits());
        let mut zvm: Vec<Option<WasmInstance>> = Vec::new();
        let mut endings = Vec::new();
        for p in programs {
            match p.instantiate(&limits, gas) {
                Ok(instance) => {
                    endings.push((Ok(Vec::new()), instance.gas_used()));
                    zvm.push(Some(instance));
                }
                // The gas used is not reported when the instantiation fails.
                Err(e) => {
                    endings.push((Err(e), 0));
                    zvm.push(None);
                }
            }
        }
        self.calls.push(format!("instantiate -> {:?}", endings[0]));
        self.compare_tiers("instantiation", &endings, &zvm.iter().map(Option::as_ref).collect::<Vec<_>>())?;
        let zvm_ending = Ending::of_zvm(&endings[0].0, &[]);
        *self.out.endings.entry(format!("instantiation {}", zvm_ending.kind())).or_insert(0) += 1;

        let wasmi = match WasmiPeer::new(engine, &self.g.bytes, gas, limits.max_memory) {
            Ok(w) => {
                let ok = Ending::Returned(vec![]);
                match self.verdict(info, "instantiation", &zvm_ending, &ok, zvm[0].as_ref(), Some(&w))? {
                    Verdict::Agree => {
                        self.out.wasmi_compared += 1;
                        Some(w)
                    }
                    Verdict::Skip(reason) => {
                        self.out.skip(format!("call: {reason}"));
                        None
                    }
                }
            }
            Err(NoInstance::Rejected(e)) => {
                self.out.skip(format!("module: wasmi rejects it: {e}"));
                None
            }
            Err(NoInstance::Ended(w)) => {
                match self.verdict(info, "instantiation", &zvm_ending, &w, zvm[0].as_ref(), None)? {
                    Verdict::Agree => self.out.wasmi_compared += 1,
                    Verdict::Skip(reason) => self.out.skip(format!("call: {reason}")),
                }
                None
            }
        };
        if zvm[0].is_none() {
            return Ok(None);
        }
        Ok(Some((zvm.into_iter().flatten().collect(), wasmi)))
    }

    /// zvm's tiers after `what`: the same ending, gas used and state.
    fn compare_tiers(
        &mut self,
        what: &str,
        endings: &[(Result<Vec<u64>, InvokeError>, u64)],
        instances: &[Option<&WasmInstance>],
    ) -> Result<(), String> {
        self.out.zvm_calls += 1;
        for (i, tier) in TIERS.iter().enumerate().skip(1) {
            if endings[i] != endings[0] {
                return Err(format!(
                    "{what}: zvm {:?} gave {:?}, zvm {tier:?} gave {:?} (ending, gas used)",
                    TIERS[0], endings[0], endings[i]
                ));
            }
            if let (Some(a), Some(b)) = (instances[0], instances[i]) {
                same_state(a, b).map_err(|d| format!("{what}: zvm {:?} and {tier:?} differ in {d}", TIERS[0]))?;
            }
        }
        Ok(())
    }

    /// zvm against wasmi after `what`: endings, exported globals, exported memory.
    fn verdict(
        &mut self,
        info: &ModuleInfo,
        what: &str,
        zvm_ending: &Ending,
        w_ending: &Ending,
        zvm: Option<&WasmInstance>,
        wasmi: Option<&WasmiPeer>,
    ) -> Result<Verdict, String> {
        if matches!(zvm_ending, Ending::OutOfGas) || matches!(w_ending, Ending::OutOfGas) {
            return Ok(Verdict::Skip("out of gas (zvm) or fuel (wasmi)"));
        }
        if let Ending::Unexpected(e) = w_ending {
            return Err(format!("{what}: wasmi: {e}"));
        }
        let exhausted = |e: &Ending| matches!(e, Ending::Trapped(Trap::CallStackExhausted));
        if exhausted(zvm_ending) != exhausted(w_ending) {
            return Ok(Verdict::Skip("call stack exhausted on one side only"));
        }
        let mut differences = Vec::new();
        if !zvm_ending.same(w_ending) {
            differences.push(format!("zvm gave {zvm_ending:?}, wasmi gave {w_ending:?}"));
        }
        if let (Some(z), Some(w)) = (zvm, wasmi) {
            for (name, ty) in &info.globals {
                let zv = z.global(name).map(|(_, bits)| Value::from_bits(*ty, bits));
                let wv = w.global(name);
                let same = match (zv, wv) {
                    (Some(a), Some(b)) => a.same(&b),
                    (a, b) => a.is_none() && b.is_none(),
                };
                if !same {
                    differences.push(format!("global {name:?}: zvm {zv:?}, wasmi {wv:?}"));
                }
            }
            if let Some(name) = &info.memory_export {
                let zm = &z.state().memory;
                match w.memory(name) {
                    Some(wm) if wm.len() != zm.len() => {
                        differences.push(format!("memory size: zvm {} bytes, wasmi {}", zm.len(), wm.len()))
                    }
                    Some(wm) if wm != &zm[..] => {
                        let at = wm.iter().zip(zm.iter()).position(|(a, b)| a != b).unwrap_or(0);
                        let end = (at + 16).min(wm.len());
                        differences.push(format!(
                            "memory from byte {at:#x}: zvm {}, wasmi {}",
                            info::hex(&zm[at..end]),
                            info::hex(&wm[at..end])
                        ));
                    }
                    Some(_) => {}
                    None => differences.push(format!("wasmi has no memory {name:?}")),
                }
            }
        }
        if differences.is_empty() {
            Ok(Verdict::Agree)
        } else if info.nan_bits_observable {
            self.out.nan_skips.push(format!("{what}: {}", differences.join("; ")));
            Ok(Verdict::Skip("differs where NaN bits may legitimately differ"))
        } else {
            Err(format!("{what}: zvm and wasmi differ:\n  {}", differences.join("\n  ")))
        }
    }
}

/// Whether two zvm instances hold the same state; else what differs.
fn same_state(a: &WasmInstance, b: &WasmInstance) -> Result<(), String> {
    let (a, b) = (a.state(), b.state());
    if a.memory.len() != b.memory.len() {
        return Err(format!("memory size ({} and {} bytes)", a.memory.len(), b.memory.len()));
    }
    if let Some(at) = a.memory.iter().zip(b.memory.iter()).position(|(x, y)| x != y) {
        let end = (at + 16).min(a.memory.len());
        return Err(format!(
            "memory from byte {at:#x} ({} and {})",
            info::hex(&a.memory[at..end]),
            info::hex(&b.memory[at..end])
        ));
    }
    if a.globals != b.globals {
        return Err(format!("globals ({:x?} and {:x?})", a.globals, b.globals));
    }
    if a.dropped != b.dropped {
        return Err(format!("dropped data segments ({:?} and {:?})", a.dropped, b.dropped));
    }
    Ok(())
}

fn render_args(tys: &[Ty], args: &[u64]) -> String {
    tys.iter().zip(args).map(|(&t, &a)| format!("{:?}", Value::from_bits(t, a))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_compare_bit_for_bit_except_nans() {
        assert!(Value::F32(0x7fc0_0000).same(&Value::F32(0xffc0_0001)));
        assert!(Value::F64(0x7ff8_0000_0000_0000).same(&Value::F64(0x7ff4_0000_0000_0000)));
        assert!(!Value::F32(0).same(&Value::F32(0x8000_0000)), "zero signs differ");
        assert!(!Value::F32(0x7f80_0000).same(&Value::F32(0x7fc0_0000)), "infinity is not NaN");
        assert!(!Value::I32(0x7fc0_0000).same(&Value::I32(0xffc0_0000)), "integers are exact");
        assert!(!Value::F32(1).same(&Value::F64(1)));
    }

    #[test]
    fn zvm_traps_map_by_name() {
        let names = [
            ("unreachable", Trap::Unreachable),
            ("int_overflow", Trap::IntegerOverflow),
            ("int_divz", Trap::IntegerDivByZero),
            ("bad_conversion", Trap::BadConversion),
            ("heap_oob", Trap::MemoryOutOfBounds),
            ("call_stack_exhausted", Trap::CallStackExhausted),
            ("table_oob", Trap::TableOutOfBounds),
            ("undefined_element", Trap::TableOutOfBounds),
            ("uninitialized_element", Trap::IndirectCallToNull),
            ("indirect_call_type", Trap::BadSignature),
            ("memory_limit", Trap::Other("memory_limit".into())),
        ];
        for (name, trap) in names {
            assert_eq!(Trap::of_zvm(name), trap, "{name}");
        }
    }

    #[test]
    fn unsupported_reasons_are_short() {
        assert_eq!(unsupported_key("tables"), "tables");
        assert_eq!(unsupported_key("function 3: call_indirect (tables)"), "call_indirect (tables)");
        assert_eq!(unsupported_key("function 0: operator TableGet { table: 0 }"), "operator TableGet");
    }
}
