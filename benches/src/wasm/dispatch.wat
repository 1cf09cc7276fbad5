;; An accumulator updated $n times through call_indirect: a table of eight functions of one type, entry
;; i mod 8 on step i. Indirect calls (table bounds and signature checks) and small i64 bodies.
(module
  (type $op (func (param i64 i64) (result i64)))
  (table 8 funcref)
  (elem (i32.const 0) $add $sub $mul $xor $rotl $shift $mix $andn)
  (func $add (type $op) (i64.add (local.get 0) (local.get 1)))
  (func $sub (type $op) (i64.sub (local.get 0) (local.get 1)))
  (func $mul (type $op) (i64.mul (local.get 0) (i64.or (local.get 1) (i64.const 1))))
  (func $xor (type $op) (i64.xor (local.get 0) (i64.mul (local.get 1) (i64.const 0x9e3779b97f4a7c15))))
  (func $rotl (type $op) (i64.add (i64.rotl (local.get 0) (local.get 1)) (i64.const 1)))
  (func $shift (type $op)
    (i64.add (i64.xor (local.get 0) (i64.shr_u (local.get 0) (i64.const 17))) (local.get 1)))
  (func $mix (type $op)
    (i64.mul (i64.xor (local.get 0) (i64.shr_u (local.get 0) (i64.const 31))) (i64.const 0xbf58476d1ce4e5b9)))
  (func $andn (type $op) (i64.xor (local.get 0) (i64.and (local.get 1) (i64.const 0xff00ff00ff00ff))))
  (func (export "dispatch") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (local.set $acc (i64.const 1))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc
          (call_indirect (type $op) (local.get $acc) (i64.extend_i32_u (local.get $i))
                                    (i32.and (local.get $i) (i32.const 7))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $step)))
    (local.get $acc)))
