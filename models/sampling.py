"""One-to-many generation: unroll a trained recurrent stack one frame at a time.

Training reads whole sequences (teacher forcing); generation feeds each
sampled frame back as the next input. Both use the same layers: the stack's
cells are stepped here with the weights the sequence layers learned.
Randomness comes from stateless ops keyed by `(seed, step)`, so a seed gives
the same piece in any process, including a SavedModel reloaded elsewhere.
"""

import keras
import tensorflow as tf


def stack_cells(model: keras.Model, cell: str, depth: int, name: str = "encoder") -> list:
    """The cells of `recurrent_stack(..., cell=cell, depth=depth, name=name)` in `model`."""
    return [model.get_layer(f"{name}_{cell}_{index}").cell for index in range(depth)]


def step(cells: list, inputs: tf.Tensor, states: list) -> tuple[tf.Tensor, list]:
    """One time step through every layer of the stack (inference: no dropout).

    Each cell computes in its own dtype (bfloat16 under mixed precision);
    outputs and states are float32 between steps, as the frames are."""
    new_states = []
    for cell, state in zip(cells, states, strict=True):
        dtype = cell.compute_dtype
        state = [tf.cast(part, dtype) for part in state]
        inputs, state = cell(tf.cast(inputs, dtype), state, training=False)
        state = list(state) if isinstance(state, list | tuple) else [state]
        inputs = tf.cast(inputs, tf.float32)
        new_states.append([tf.cast(part, tf.float32) for part in state])
    return inputs, new_states


def stateless_uniform(shape, seed: tf.Tensor, counter) -> tf.Tensor:
    """Uniform noise in [0, 1) that depends on `(seed, counter)` alone."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(counter, tf.int64)])
    return tf.random.stateless_uniform(shape, seed=key)


def generate(
    cells: list,
    head,
    primer: tf.Tensor,
    steps: tf.Tensor,
    temperature: tf.Tensor,
    seed: tf.Tensor,
    input_skip: bool = False,
) -> tf.Tensor:
    """`steps` frames sampled after `primer` (`(batch, frames, keys)`, may be empty).

    The stack first reads a silent frame (where every training sequence
    starts) and the primer; then each sampled frame becomes the next input.
    With `input_skip` the head sees the input frame beside the stack's
    output, as in training. Returns `(batch, steps, keys)`.
    """
    batch, keys = tf.shape(primer)[0], tf.shape(primer)[2]
    states = [
        [tf.cast(s, tf.float32) for s in tf.nest.flatten(cell.get_initial_state(batch))]
        for cell in cells
    ]
    inputs = tf.concat([tf.zeros_like(primer[:, :1]), primer], axis=1)

    def advance(frame, states):
        output, states = step(cells, frame, states)
        return (tf.concat([output, frame], axis=-1) if input_skip else output), states

    # Explicit loops: exports trace without AutoGraph.
    def read(index, context, states):
        return index + 1, *advance(inputs[:, index], states)

    width = cells[-1].units + (primer.shape[-1] if input_skip else 0)
    _, context, states = tf.while_loop(
        lambda index, *_: index < tf.shape(inputs)[1],
        read,
        (0, tf.zeros([batch, width]), states),
    )

    def sample(index, context, states, frames):
        frame = head.sample(context, stateless_uniform([batch, keys], seed, index), temperature)
        return index + 1, *advance(frame, states), frames.write(index, frame)

    frames = tf.TensorArray(tf.float32, size=steps, element_shape=tf.TensorShape([None, None]))
    *_, frames = tf.while_loop(
        lambda index, *_: index < steps, sample, (0, context, states, frames)
    )
    # An empty TensorArray of frames of unknown batch size cannot be stacked.
    stacked = tf.cond(steps > 0, frames.stack, lambda: tf.zeros([0, batch, keys]))
    return tf.transpose(stacked, [1, 0, 2])


def generate_by_rereading(
    trunk: keras.Model,
    head,
    primer: tf.Tensor,
    steps: tf.Tensor,
    temperature: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """`generate` for trunks that cannot be stepped one frame at a time (see
    models/keyboard.py): the trunk rereads the whole piece for every new frame,
    which costs time quadratic in the length, seconds for a chorale. The
    noise is keyed as in `generate`. Returns `(batch, steps, keys)`."""
    batch, keys = tf.shape(primer)[0], primer.shape[2]

    def sample(index, roll):
        # The trunk's last frame reads the roll's last frame: append a silent frame to read it.
        context = trunk(tf.concat([roll, tf.zeros([batch, 1, keys])], axis=1), training=False)
        uniform = stateless_uniform([batch, keys], seed, index)
        frame = head.sample(context[:, -1], uniform, temperature)
        return index + 1, tf.concat([roll, frame[:, None]], axis=1)

    _, roll = tf.while_loop(
        lambda index, _: index < steps,
        sample,
        (0, primer),
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None, keys])),
    )
    return roll[:, tf.shape(primer)[1] :]


def key_probability(head, context: tf.Tensor, samples: int, seed: int = 0) -> tf.Tensor:
    """Each key's marginal probability for every context vector `(..., units)`.

    Exact for independent keys; for a joint (NADE) head, the mean of `samples`
    frames drawn with a fixed seed, so the estimate is reproducible.
    """
    flat = tf.reshape(context, [-1, tf.shape(context)[-1]])
    keys = head.keys
    uniform = stateless_uniform([samples, tf.shape(flat)[0], keys], tf.constant(seed), -1)
    probability = head.key_probability(flat, uniform)
    return tf.reshape(probability, tf.concat([tf.shape(context)[:-1], [keys]], axis=0))
