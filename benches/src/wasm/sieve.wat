;; Sieve of Eratosthenes over linear memory: the sum of the primes below $n. Byte i of memory is 1 once i
;; is known to be composite; memory grows to hold $n bytes on the first call. Byte loads and stores.
(module
  (memory 1)
  ;; Grows memory to at least $bytes bytes (traps if it cannot).
  (func $reserve (param $bytes i32)
    (local $pages i32)
    (local.set $pages (i32.shr_u (i32.add (local.get $bytes) (i32.const 0xffff)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable)))))
  (func (export "sieve") (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $sum i64)
    (call $reserve (local.get $n))
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $i))))
            ;; Strike out i*i, i*i + i, ... (only when i*i < n: i*i may not fit 32 bits).
            (if (i64.lt_u (i64.mul (i64.extend_i32_u (local.get $i)) (i64.extend_i32_u (local.get $i)))
                          (i64.extend_i32_u (local.get $n)))
              (then
                (local.set $j (i32.mul (local.get $i) (local.get $i)))
                (block $marked
                  (loop $mark
                    (br_if $marked (i32.ge_u (local.get $j) (local.get $n)))
                    (i32.store8 (local.get $j) (i32.const 1))
                    (local.set $j (i32.add (local.get $j) (local.get $i)))
                    (br $mark)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $sum)))
