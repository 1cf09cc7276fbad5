//! Modules from bytes (wasm-smith, configured for what zvm runs) and arguments from a seed.

use super::info::Ty;
use arbitrary::{Result, Unstructured};
use wasm_smith::{Config, Module};

/// A generated module and how it was made.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The binary.
    pub bytes: Vec<u8>,
    /// NaNs of float arithmetic were canonicalized by wasm-smith (`Config::canonicalize_nans`).
    pub canonical_nans: bool,
    /// Tables (and so `call_indirect`, element segments and the table operators) were allowed.
    pub tables: bool,
    /// wasm-smith's termination fuel (a global decremented at each loop head and function entry that traps
    /// `unreachable` at zero), if this module has it; without it, gas and fuel stop endless loops.
    pub termination_fuel: Option<u32>,
    /// Seed of the arguments the exported functions are called with.
    pub arg_seed: u64,
}

/// The wasm-smith configuration: WebAssembly 2.0 without SIMD (what zvm accepts), no imports, one small
/// 32-bit memory at most, small modules. The knobs that vary per module come from `u`.
fn config(u: &mut Unstructured<'_>) -> Result<(Config, bool, bool)> {
    let knobs: u8 = u.arbitrary()?;
    // Three modules in four with NaN canonicalization (every result exactly comparable with wasmi), the rest
    // without (float arithmetic as written; see `ModuleInfo::nan_bits_observable`).
    let canonical_nans = knobs & 0b11 != 0;
    // Half the modules may have tables (and so `call_indirect`, the table operators and element segments).
    let tables = knobs & 0b100 != 0;
    // Three modules in four export everything, so that every global and the memory are compared.
    let export_everything = knobs & 0b11000 != 0;

    let max_funcs = u.int_in_range(1..=10)?;
    let max_instructions = u.int_in_range(4..=120)?;
    let config = Config {
        // Off: what zvm does not accept (proposals past WebAssembly 2.0, and SIMD).
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        memory64_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        custom_descriptors_enabled: false,
        max_memories: 1,
        max_tags: 0,
        // On: the rest of WebAssembly 2.0.
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        allow_floats: true,
        canonicalize_nans: canonical_nans,
        export_everything,
        // No imports: only an embedder's `Imports` could resolve them.
        max_imports: 0,
        available_imports: None,
        // Small modules: quick to compile in debug builds, and a failure is short to read. (Without a type
        // there would be no function; a minimum of one export makes wasm-smith give up on a few inputs in a
        // hundred.)
        min_types: 1,
        max_types: 12,
        min_funcs: 1,
        max_funcs,
        max_instructions,
        max_globals: 8,
        min_exports: 0,
        max_exports: 16,
        max_data_segments: 4,
        max_element_segments: if tables { 4 } else { 0 },
        max_elements: 16,
        max_tables: if tables { 2 } else { 0 },
        max_table_elements: 64,
        // Up to 4 pages declared; `memory.grow` may add more where no maximum is declared.
        max_memory32_bytes: 4 << 16,
        generate_custom_sections: false,
        allow_invalid_funcs: false,
        ..Config::default()
    };
    Ok((config, canonical_nans, tables))
}

/// Reads a module (and the seed of its arguments) from `data`.
pub fn generate(data: &[u8]) -> Result<Generated> {
    let mut u = Unstructured::new(data);
    let (config, canonical_nans, tables) = config(&mut u)?;
    let fuel_choice: u16 = u.arbitrary()?;
    let mut module = Module::new(config, &mut u)?;
    // One module in four is made to terminate by wasm-smith itself, so that endless loops and recursion trap
    // at the same point in both engines (and are compared) rather than run out of gas and fuel.
    let termination_fuel = match fuel_choice % 4 {
        0 => {
            let fuel = u32::from(fuel_choice / 4 % 2000) + 1;
            module.ensure_termination(fuel).map_err(|_| arbitrary::Error::IncorrectFormat)?;
            Some(fuel)
        }
        _ => None,
    };
    let arg_seed = u.arbitrary()?;
    Ok(Generated { bytes: module.to_bytes(), canonical_nans, tables, termination_fuel, arg_seed })
}

/// SplitMix64: the arguments' random source, and the bytes the tests feed the generator.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// `len` bytes from `seed`: the input the tests give [`generate`].
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One argument of type `ty` as a bit pattern (`i32`/`f32` in the low 32 bits, references null): edge
/// values often (zero, ones, extremes, float boundaries of the integer conversions, infinities, NaNs with
/// and without payloads, signalling ones too), small values, and random bits.
pub fn arg(rng: &mut SplitMix64, ty: Ty) -> u64 {
    match ty {
        Ty::I32 => u64::from(match rng.below(8) {
            0..=2 => rng.pick(&[0u32, 1, 2, 3, 7, 8, 16, 31, 32, 255, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, 0xfffe]),
            3 | 4 => rng.below(64) as u32,
            5 => (rng.below(1 << 20) as u32).wrapping_neg(),
            _ => rng.next_u64() as u32,
        }),
        Ty::I64 => match rng.below(8) {
            0..=2 => rng.pick(&[0u64, 1, 2, 63, 64, u64::MAX, 1 << 63, (1 << 63) - 1, 0xffff_ffff, 1 << 32]),
            3 | 4 => rng.below(64),
            5 => rng.below(1 << 40).wrapping_neg(),
            _ => rng.next_u64(),
        },
        Ty::F32 => u64::from(match rng.below(8) {
            0..=2 => rng.pick(&[
                0.0f32.to_bits(),
                (-0.0f32).to_bits(),
                1.0f32.to_bits(),
                (-1.5f32).to_bits(),
                0.5f32.to_bits(),
                f32::INFINITY.to_bits(),
                f32::NEG_INFINITY.to_bits(),
                f32::MAX.to_bits(),
                f32::MIN_POSITIVE.to_bits(),
                1,
                2147483648.0f32.to_bits(),
                (-2147483904.0f32).to_bits(),
                4294967296.0f32.to_bits(),
                9.223372e18f32.to_bits(),
            ]),
            3 => rng.pick(&[0x7fc0_0000u32, 0xffc0_0000, 0x7fa0_0000, 0x7fc0_0001, 0xff80_0001]),
            4 | 5 => ((rng.below(2001) as i32 - 1000) as f32 / rng.pick(&[1.0f32, 4.0, 10.0])).to_bits(),
            _ => rng.next_u64() as u32,
        }),
        Ty::F64 => match rng.below(8) {
            0..=2 => rng.pick(&[
                0.0f64.to_bits(),
                (-0.0f64).to_bits(),
                1.0f64.to_bits(),
                (-1.5f64).to_bits(),
                0.5f64.to_bits(),
                f64::INFINITY.to_bits(),
                f64::NEG_INFINITY.to_bits(),
                f64::MAX.to_bits(),
                f64::MIN_POSITIVE.to_bits(),
                1,
                2147483648.0f64.to_bits(),
                (-2147483649.0f64).to_bits(),
                4294967296.0f64.to_bits(),
                9223372036854775808.0f64.to_bits(),
                (-9223372036854777856.0f64).to_bits(),
            ]),
            3 => rng.pick(&[
                0x7ff8_0000_0000_0000u64,
                0xfff8_0000_0000_0000,
                0x7ff4_0000_0000_0000,
                0x7ff8_0000_0000_0001,
                0xfff0_0000_0000_0001,
            ]),
            4 | 5 => ((rng.below(2001) as i64 - 1000) as f64 / rng.pick(&[1.0f64, 4.0, 10.0])).to_bits(),
            _ => rng.next_u64(),
        },
        Ty::FuncRef | Ty::ExternRef => 0,
    }
}
