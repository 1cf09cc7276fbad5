;; token.wat - a minimal token with Transfer events, as a WebAssembly contract (see docs/wasm-abi.md).
;;
;; Call data: one operation byte, then 32-byte big-endian words.
;;   0x00 AMOUNT        mint AMOUNT to the caller               -> Transfer(0, caller, AMOUNT)
;;   0x01 TO AMOUNT     transfer AMOUNT from the caller to TO  -> Transfer(caller, TO, AMOUNT); reverts if short
;;   0x02 OWNER         balance of OWNER, returned as one word
;; Amounts are the low 64 bits of their word (the higher bytes must be zero, else the call reverts).
;; Balances live in storage at keccak256(owner word . 1), like a Solidity mapping in slot 1.
;;
;;   zvm run examples/token.wat --input 0x0000000000000000000000000000000000000000000000000000000000000003e8
(module
  (import "zvm" "input_size" (func $input_size (result i32)))
  (import "zvm" "input_copy" (func $input_copy (param i32 i32 i32)))
  (import "zvm" "caller" (func $caller (param i32)))
  (import "zvm" "storage_read" (func $storage_read (param i32 i32)))
  (import "zvm" "storage_write" (func $storage_write (param i32 i32)))
  (import "zvm" "keccak256" (func $keccak256 (param i32 i32 i32)))
  (import "zvm" "log3" (func $log3 (param i32 i32 i32 i32 i32)))
  (import "zvm" "return" (func $return (param i32 i32)))
  (import "zvm" "revert" (func $revert (param i32 i32)))
  (memory 1)
  ;; Layout: 0..97 call data; 128..160 the caller; 160..224 a key's preimage (owner . slot 1);
  ;; 224..256 the key; 256..288 a value word; 288..320 the Transfer topic; 320..352 `from`; 352..384 `to`;
  ;; 384..416 the amount word (event data).
  (data (i32.const 223) "\01")
  (data (i32.const 288)
    "\dd\f2\52\ad\1b\e2\c8\9b\69\c2\b0\68\fc\37\8d\aa\95\2b\a7\f1\63\c4\a1\16\28\f5\5a\4d\f5\23\b3\ef")

  (func (export "call")
    (local $op i32) (local $amount i64) (local $from_balance i64)
    (if (i32.gt_u (call $input_size) (i32.const 97)) (then (call $revert (i32.const 0) (i32.const 0))))
    (call $input_copy (i32.const 0) (i32.const 0) (call $input_size))
    (call $caller (i32.const 128))
    (local.set $op (i32.load8_u (i32.const 0)))
    (if (i32.eqz (local.get $op))
      (then
        (local.set $amount (call $word_u64 (i32.const 1)))
        (call $set_balance (i32.const 128)
          (i64.add (call $balance (i32.const 128)) (local.get $amount)))
        (memory.fill (i32.const 320) (i32.const 0) (i32.const 32))
        (memory.copy (i32.const 352) (i32.const 128) (i32.const 32))
        (call $emit_transfer (local.get $amount))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 1))
      (then
        (local.set $amount (call $word_u64 (i32.const 33)))
        (local.set $from_balance (call $balance (i32.const 128)))
        (if (i64.lt_u (local.get $from_balance) (local.get $amount))
          (then (call $revert (i32.const 0) (i32.const 0))))
        (call $set_balance (i32.const 128) (i64.sub (local.get $from_balance) (local.get $amount)))
        (call $set_balance (i32.const 1) (i64.add (call $balance (i32.const 1)) (local.get $amount)))
        (memory.copy (i32.const 320) (i32.const 128) (i32.const 32))
        (memory.copy (i32.const 352) (i32.const 1) (i32.const 32))
        (call $emit_transfer (local.get $amount))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 2))
      (then
        (call $balance (i32.const 1))
        (drop)
        (call $return (i32.const 256) (i32.const 32))))
    (call $revert (i32.const 0) (i32.const 0)))

  ;; The low 64 bits of the big-endian word at $p; reverts if its high 24 bytes are not zero.
  (func $word_u64 (param $p i32) (result i64)
    (if (i64.ne (i64.or (i64.or (i64.load (local.get $p)) (i64.load offset=8 (local.get $p)))
                        (i64.load offset=16 (local.get $p)))
                (i64.const 0))
      (then (call $revert (i32.const 0) (i32.const 0))))
    (call $load_be64 (i32.add (local.get $p) (i32.const 24))))

  ;; The storage key of the balance of the owner word at $owner, into 224..256.
  (func $key (param $owner i32)
    (memory.copy (i32.const 160) (local.get $owner) (i32.const 32))
    (call $keccak256 (i32.const 160) (i32.const 64) (i32.const 224)))

  ;; The balance of the owner word at $owner (its value word is left at 256..288).
  (func $balance (param $owner i32) (result i64)
    (call $key (local.get $owner))
    (call $storage_read (i32.const 224) (i32.const 256))
    (call $load_be64 (i32.const 280)))

  (func $set_balance (param $owner i32) (param $v i64)
    (call $key (local.get $owner))
    (memory.fill (i32.const 256) (i32.const 0) (i32.const 24))
    (call $store_be64 (i32.const 280) (local.get $v))
    (call $storage_write (i32.const 224) (i32.const 256)))

  (func $emit_transfer (param $amount i64)
    (memory.fill (i32.const 384) (i32.const 0) (i32.const 24))
    (call $store_be64 (i32.const 408) (local.get $amount))
    (call $log3 (i32.const 384) (i32.const 32) (i32.const 288) (i32.const 320) (i32.const 352)))

  (func $load_be64 (param $p i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (call $load_be32 (local.get $p))) (i64.const 32))
      (i64.extend_i32_u (call $load_be32 (i32.add (local.get $p) (i32.const 4))))))
  (func $load_be32 (param $p i32) (result i32)
    (local $v i32)
    (local.set $v (i32.load (local.get $p)))
    ;; byte swap
    (i32.or
      (i32.or (i32.shl (local.get $v) (i32.const 24))
              (i32.and (i32.shl (local.get $v) (i32.const 8)) (i32.const 0xff0000)))
      (i32.or (i32.and (i32.shr_u (local.get $v) (i32.const 8)) (i32.const 0xff00))
              (i32.shr_u (local.get $v) (i32.const 24)))))
  (func $store_be64 (param $p i32) (param $v i64)
    (call $store_be32 (local.get $p) (i32.wrap_i64 (i64.shr_u (local.get $v) (i64.const 32))))
    (call $store_be32 (i32.add (local.get $p) (i32.const 4)) (i32.wrap_i64 (local.get $v))))
  (func $store_be32 (param $p i32) (param $v i32)
    (i32.store (local.get $p)
      (i32.or
        (i32.or (i32.shl (local.get $v) (i32.const 24))
                (i32.and (i32.shl (local.get $v) (i32.const 8)) (i32.const 0xff0000)))
        (i32.or (i32.and (i32.shr_u (local.get $v) (i32.const 8)) (i32.const 0xff00))
                (i32.shr_u (local.get $v) (i32.const 24)))))))
