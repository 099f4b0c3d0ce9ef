#!/usr/bin/python3
"""Generate the tiny ONNX test models and reference data used by crsc.

Run with Debian's interpreter (PyTorch 1.13 CPU, onnx 1.12, numpy):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 testdata/onnx/gen.py          # (re)write testdata/onnx/
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 testdata/onnx/gen.py --check  # regenerate into a temp dir and diff

Everything is seeded; see README.md (written by this script) for the layout.
The two models are written in plain torch, mirroring Hugging Face's
BertForSequenceClassification and T5ForConditionalGeneration closely enough that
the exported graphs (and initializer names) look like real HF exports.
"""

import argparse
import collections
import copy
import filecmp
import json
import math
import os
import re
import shutil
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)

HERE = os.path.dirname(os.path.abspath(__file__))
OPSETS = (13, 14, 17)
MODES = ("eval", "train")
GRAD_EXPORT_OPSET = 13  # grad_*.npy names follow <model>.op13.eval.onnx


# --------------------------------------------------------------------------
# BERT (modelled on transformers.models.bert.modeling_bert)
# --------------------------------------------------------------------------

class BertConfig:
    vocab_size = 120
    hidden_size = 32
    num_hidden_layers = 2
    num_attention_heads = 2
    intermediate_size = 64
    max_position_embeddings = 64
    type_vocab_size = 2
    hidden_dropout_prob = 0.1
    attention_probs_dropout_prob = 0.1
    layer_norm_eps = 1e-12
    num_labels = 2


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)))

    def forward(self, input_ids, token_type_ids):
        seq_length = input_ids.size(1)
        position_ids = self.position_ids[:, 0:seq_length]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_attention_heads = c.num_attention_heads
        self.attention_head_size = c.hidden_size // c.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(c.hidden_size, self.all_head_size)
        self.key = nn.Linear(c.hidden_size, self.all_head_size)
        self.value = nn.Linear(c.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        attention_scores = attention_scores + attention_mask
        attention_probs = F.softmax(attention_scores, dim=-1)
        attention_probs = self.dropout(attention_probs)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        return context_layer.view(new_context_layer_shape)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, hidden_states, attention_mask):
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, hidden_states):
        # HF "gelu" == exact erf GELU; exported as Div/Erf/Add/Mul/Mul.
        return F.gelu(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, hidden_states, attention_mask):
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask):
        for layer in self.layer:
            hidden_states = layer(hidden_states, attention_mask)
        return hidden_states


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        first_token_tensor = hidden_states[:, 0]
        return self.activation(self.dense(first_token_tensor))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        embedding_output = self.embeddings(input_ids, token_type_ids)
        dtype = embedding_output.dtype
        # ModuleUtilsMixin.get_extended_attention_mask
        extended_attention_mask = attention_mask[:, None, None, :].to(dtype=dtype)
        extended_attention_mask = (1.0 - extended_attention_mask) * torch.finfo(dtype).min
        sequence_output = self.encoder(embedding_output, extended_attention_mask)
        return sequence_output, self.pooler(sequence_output)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.classifier = nn.Linear(c.hidden_size, c.num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        _, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.dropout(pooled_output))


# --------------------------------------------------------------------------
# T5 (modelled on transformers.models.t5.modeling_t5)
# --------------------------------------------------------------------------

class T5Config:
    vocab_size = 100
    d_model = 32
    d_kv = 16
    d_ff = 64
    num_layers = 2
    num_decoder_layers = 2
    num_heads = 2
    relative_attention_num_buckets = 8
    relative_attention_max_distance = 16
    dropout_rate = 0.1
    layer_norm_epsilon = 1e-6


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states


class T5DenseActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.dropout = nn.Dropout(c.dropout_rate)
        self.act = nn.ReLU()

    def forward(self, hidden_states):
        hidden_states = self.dropout(self.act(self.wi(hidden_states)))
        return self.wo(hidden_states)


class T5LayerFF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.DenseReluDense = T5DenseActDense(c)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, hidden_states):
        forwarded_states = self.DenseReluDense(self.layer_norm(hidden_states))
        return hidden_states + self.dropout(forwarded_states)


class T5Attention(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.has_relative_attention_bias = has_relative_attention_bias
        self.relative_attention_num_buckets = c.relative_attention_num_buckets
        self.relative_attention_max_distance = c.relative_attention_max_distance
        self.d_model = c.d_model
        self.key_value_proj_dim = c.d_kv
        self.n_heads = c.num_heads
        self.dropout = c.dropout_rate
        self.inner_dim = self.n_heads * self.key_value_proj_dim
        self.q = nn.Linear(self.d_model, self.inner_dim, bias=False)
        self.k = nn.Linear(self.d_model, self.inner_dim, bias=False)
        self.v = nn.Linear(self.d_model, self.inner_dim, bias=False)
        self.o = nn.Linear(self.inner_dim, self.d_model, bias=False)
        if self.has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.relative_attention_num_buckets, self.n_heads)

    @staticmethod
    def _relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
        relative_buckets = 0
        if bidirectional:
            num_buckets //= 2
            relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
            relative_position = torch.abs(relative_position)
        else:
            relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
        max_exact = num_buckets // 2
        is_small = relative_position < max_exact
        relative_position_if_large = max_exact + (
            torch.log(relative_position.float() / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).to(torch.long)
        relative_position_if_large = torch.min(
            relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1)
        )
        relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
        return relative_buckets

    def compute_bias(self, query_length, key_length):
        context_position = torch.arange(query_length, dtype=torch.long)[:, None]
        memory_position = torch.arange(key_length, dtype=torch.long)[None, :]
        relative_position = memory_position - context_position
        relative_position_bucket = self._relative_position_bucket(
            relative_position,
            bidirectional=(not self.is_decoder),
            num_buckets=self.relative_attention_num_buckets,
            max_distance=self.relative_attention_max_distance,
        )
        values = self.relative_attention_bias(relative_position_bucket)  # (q, k, heads)
        return values.permute([2, 0, 1]).unsqueeze(0)  # (1, heads, q, k)

    def forward(self, hidden_states, mask=None, key_value_states=None, position_bias=None):
        batch_size, seq_length = hidden_states.shape[:2]
        key_length = seq_length if key_value_states is None else key_value_states.shape[1]

        def shape(states):
            return states.view(batch_size, -1, self.n_heads, self.key_value_proj_dim).transpose(1, 2)

        def unshape(states):
            return states.transpose(1, 2).contiguous().view(batch_size, -1, self.inner_dim)

        kv = hidden_states if key_value_states is None else key_value_states
        query_states = shape(self.q(hidden_states))
        key_states = shape(self.k(kv))
        value_states = shape(self.v(kv))
        scores = torch.matmul(query_states, key_states.transpose(3, 2))  # no 1/sqrt(d) in T5
        if position_bias is None:
            if not self.has_relative_attention_bias:
                position_bias = torch.zeros(
                    (1, self.n_heads, seq_length, key_length), device=scores.device, dtype=scores.dtype
                )
            else:
                position_bias = self.compute_bias(seq_length, key_length)
            if mask is not None:
                position_bias = position_bias + mask
        scores = scores + position_bias
        attn_weights = F.softmax(scores, dim=-1)
        attn_weights = F.dropout(attn_weights, p=self.dropout, training=self.training)
        attn_output = unshape(torch.matmul(attn_weights, value_states))
        return self.o(attn_output), position_bias


class T5LayerSelfAttention(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.SelfAttention = T5Attention(c, is_decoder, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, hidden_states, attention_mask, position_bias):
        attn, position_bias = self.SelfAttention(self.layer_norm(hidden_states), attention_mask,
                                                 position_bias=position_bias)
        return hidden_states + self.dropout(attn), position_bias


class T5LayerCrossAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.EncDecAttention = T5Attention(c, is_decoder=True, has_relative_attention_bias=False)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, hidden_states, key_value_states, attention_mask, position_bias):
        attn, position_bias = self.EncDecAttention(self.layer_norm(hidden_states), attention_mask,
                                                   key_value_states=key_value_states,
                                                   position_bias=position_bias)
        return hidden_states + self.dropout(attn), position_bias


class T5Block(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(c, is_decoder, has_relative_attention_bias)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(c))
        self.layer.append(T5LayerFF(c))

    def forward(self, hidden_states, attention_mask, position_bias,
                encoder_hidden_states=None, encoder_attention_mask=None, encoder_decoder_position_bias=None):
        hidden_states, position_bias = self.layer[0](hidden_states, attention_mask, position_bias)
        if self.is_decoder:
            hidden_states, encoder_decoder_position_bias = self.layer[1](
                hidden_states, encoder_hidden_states, encoder_attention_mask, encoder_decoder_position_bias)
        hidden_states = self.layer[-1](hidden_states)
        return hidden_states, position_bias, encoder_decoder_position_bias


class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens, is_decoder):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.is_decoder = is_decoder
        n = c.num_decoder_layers if is_decoder else c.num_layers
        self.block = nn.ModuleList([T5Block(c, is_decoder, has_relative_attention_bias=(i == 0)) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, input_ids, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None):
        inputs_embeds = self.embed_tokens(input_ids)
        batch_size, seq_length = input_ids.size()
        dtype = inputs_embeds.dtype
        if attention_mask is None:
            attention_mask = torch.ones(batch_size, seq_length, device=inputs_embeds.device)
        # ModuleUtilsMixin.get_extended_attention_mask (causal variant for the decoder)
        if self.is_decoder:
            seq_ids = torch.arange(seq_length, device=inputs_embeds.device)
            causal_mask = seq_ids[None, None, :].repeat(batch_size, seq_length, 1) <= seq_ids[None, :, None]
            causal_mask = causal_mask.to(attention_mask.dtype)
            extended_attention_mask = causal_mask[:, None, :, :] * attention_mask[:, None, None, :]
        else:
            extended_attention_mask = attention_mask[:, None, None, :]
        extended_attention_mask = extended_attention_mask.to(dtype=dtype)
        extended_attention_mask = (1.0 - extended_attention_mask) * torch.finfo(dtype).min
        encoder_extended_attention_mask = None
        if self.is_decoder:
            # ModuleUtilsMixin.invert_attention_mask
            m = encoder_attention_mask[:, None, None, :].to(dtype=dtype)
            encoder_extended_attention_mask = (1.0 - m) * torch.finfo(dtype).min

        position_bias = None
        encoder_decoder_position_bias = None
        hidden_states = self.dropout(inputs_embeds)
        for layer_module in self.block:
            hidden_states, position_bias, encoder_decoder_position_bias = layer_module(
                hidden_states, extended_attention_mask, position_bias,
                encoder_hidden_states, encoder_extended_attention_mask, encoder_decoder_position_bias)
        hidden_states = self.final_layer_norm(hidden_states)
        return self.dropout(hidden_states)


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model_dim = c.d_model
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder = T5Stack(c, self.shared, is_decoder=False)
        self.decoder = T5Stack(c, self.shared, is_decoder=True)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.shared.weight  # tie_word_embeddings=True

    def forward(self, input_ids, attention_mask, decoder_input_ids, labels):
        hidden_states = self.encoder(input_ids, attention_mask)
        sequence_output = self.decoder(decoder_input_ids, None, hidden_states, attention_mask)
        sequence_output = sequence_output * (self.model_dim ** -0.5)  # tied-embedding rescale
        lm_logits = self.lm_head(sequence_output)
        loss = F.cross_entropy(lm_logits.view(-1, lm_logits.size(-1)), labels.view(-1), ignore_index=-100)
        return loss, lm_logits


# --------------------------------------------------------------------------
# Model specs: construction, inputs, dynamic axes
# --------------------------------------------------------------------------

def randomize(model, seed):
    """Give every parameter distinct random values (LayerNorm weights ~1, the rest small).

    Distinct values matter: initializers that torch renames/transposes are mapped
    back to torch parameters by value, and torch may de-duplicate equal tensors.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith("relative_attention_bias.weight"):
                p.copy_(0.5 * r)
            elif name in ("shared.weight",):
                p.copy_(1.0 * r)
            else:
                p.copy_(0.2 * r if p.dim() > 1 else 0.05 * r)
    return model


def bert_inputs(rng, batch, seq, c=BertConfig):
    input_ids = rng.randint(0, c.vocab_size, size=(batch, seq)).astype(np.int64)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    token_type_ids = np.zeros((batch, seq), dtype=np.int64)
    for b in range(batch):
        split = rng.randint(1, seq)  # sentence B starts here
        token_type_ids[b, split:] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def bert_sets():
    rng = np.random.RandomState(1234)
    s0 = bert_inputs(rng, 2, 7)
    s0["attention_mask"][1, 4:] = 0  # row 1 padded: 4 real tokens, 3 pads
    s0["input_ids"][1, 4:] = 0       # [PAD]
    s0["token_type_ids"][1, 4:] = 0
    s1 = bert_inputs(rng, 3, 13)
    s1["attention_mask"][2, 9:] = 0
    s1["input_ids"][2, 9:] = 0
    s1["token_type_ids"][2, 9:] = 0
    return [s0, s1]


def t5_inputs(rng, batch, src, tgt, src_len=None, tgt_len=None, c=T5Config):
    """src_len/tgt_len: optional {row: real_length} for padded rows (pad id 0)."""
    input_ids = rng.randint(2, c.vocab_size, size=(batch, src)).astype(np.int64)
    attention_mask = np.ones((batch, src), dtype=np.int64)
    for b, n in (src_len or {}).items():
        input_ids[b, n:] = 0
        attention_mask[b, n:] = 0
    labels = rng.randint(2, c.vocab_size, size=(batch, tgt)).astype(np.int64)
    for b, n in (tgt_len or {}).items():
        labels[b, n:] = -100
    # T5's _shift_right: decoder_start_token_id = pad = 0, -100 -> pad
    decoder_input_ids = np.zeros_like(labels)
    decoder_input_ids[:, 1:] = labels[:, :-1]
    decoder_input_ids[decoder_input_ids == -100] = 0
    return dict(input_ids=input_ids, attention_mask=attention_mask,
                decoder_input_ids=decoder_input_ids, labels=labels)


def t5_sets():
    rng = np.random.RandomState(5678)
    s0 = t5_inputs(rng, 2, 7, 4, src_len={1: 4}, tgt_len={1: 2})
    s1 = t5_inputs(rng, 3, 13, 5, src_len={0: 10})
    return [s0, s1]


MODELS = {
    "bert_tiny_cls": dict(
        build=lambda: randomize(BertForSequenceClassification(BertConfig()), seed=0),
        inputs=["input_ids", "attention_mask", "token_type_ids"],
        outputs=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                      "attention_mask": {0: "batch", 1: "seq"},
                      "token_type_ids": {0: "batch", 1: "seq"},
                      "logits": {0: "batch"}},
        sets=bert_sets,
    ),
    "t5_tiny": dict(
        build=lambda: randomize(T5ForConditionalGeneration(T5Config()), seed=1),
        inputs=["input_ids", "attention_mask", "decoder_input_ids", "labels"],
        outputs=["loss", "logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "src_len"},
                      "attention_mask": {0: "batch", 1: "src_len"},
                      "decoder_input_ids": {0: "batch", 1: "tgt_len"},
                      "labels": {0: "batch", 1: "tgt_len"},
                      "logits": {0: "batch", 1: "tgt_len"}},
        sets=t5_sets,
    ),
}


# --------------------------------------------------------------------------
# Minimal numpy interpreter for the ops these exports use (onnx 1.12 has no
# onnx.reference). Used to check every export against the torch reference outputs.
# Dropout is the identity (so train exports are checked too, as if p = 0).
# --------------------------------------------------------------------------

_ONNX2NP = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _run_node(op, a, x):
    if op in ("Add", "Sub", "Mul", "Div", "Pow"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power}.get(op)
        if op == "Div":
            r = np.floor_divide(x[0], x[1]) if x[0].dtype.kind == "i" else np.divide(x[0], x[1])
        else:
            r = f(x[0], x[1])
        return [r.astype(x[0].dtype)]
    unary = {"Abs": np.abs, "Neg": np.negative, "Sqrt": np.sqrt, "Log": np.log, "Tanh": np.tanh,
             "Relu": lambda v: np.maximum(v, 0).astype(v.dtype),
             "Erf": lambda v: np.vectorize(math.erf, otypes=[v.dtype])(v)}
    if op in unary:
        with np.errstate(divide="ignore"):
            return [unary[op](x[0])]
    if op in ("Greater", "Less", "LessOrEqual", "Equal"):
        return [{"Greater": np.greater, "Less": np.less, "LessOrEqual": np.less_equal, "Equal": np.equal}[op](x[0], x[1])]
    if op == "Not":
        return [np.logical_not(x[0])]
    if op == "CumSum":
        assert not a.get("exclusive") and not a.get("reverse")
        return [np.cumsum(x[0], axis=int(x[1])).astype(x[0].dtype)]
    if op == "Min":
        r = x[0]
        for v in x[1:]:
            r = np.minimum(r, v)
        return [r]
    if op == "Where":
        return [np.where(x[0], x[1], x[2])]
    if op == "Cast":
        with np.errstate(invalid="ignore"):
            return [x[0].astype(_ONNX2NP[a["to"]])]
    if op == "Constant":
        return [onnx.numpy_helper.to_array(a["value"])]
    if op == "ConstantOfShape":
        v = onnx.numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full(tuple(x[0]), v[0], dtype=v.dtype)]
    if op == "Shape":
        sh = np.array(x[0].shape, dtype=np.int64)
        return [sh[a.get("start", 0):a.get("end", len(sh))]]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "Gather":
        return [np.take(x[0], x[1], axis=a.get("axis", 0))]
    if op == "Reshape":
        shape = [int(d) for d in x[1]]
        if not a.get("allowzero", 0):
            shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return [x[0].reshape(shape)]
    if op == "Transpose":
        return [np.transpose(x[0], a.get("perm"))]
    if op == "Unsqueeze":
        r = x[0]
        axes = sorted(int(v) % (r.ndim + len(x[1])) for v in x[1])
        for ax in axes:
            r = np.expand_dims(r, ax)
        return [r]
    if op == "Squeeze":
        return [np.squeeze(x[0], axis=tuple(int(v) for v in x[1])) if len(x) > 1 else np.squeeze(x[0])]
    if op == "Slice":
        data, starts, ends = x[0], x[1], x[2]
        axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
        steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
        sl = [slice(None)] * data.ndim
        for st, en, ax, sp in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(st), int(en), int(sp))
        return [data[tuple(sl)]]
    if op == "Range":
        return [np.arange(x[0], x[1], x[2]).astype(x[0].dtype)]
    if op == "Expand":
        return [x[0] * np.ones(tuple(x[1]), dtype=x[0].dtype)]
    if op == "Tile":
        return [np.tile(x[0], tuple(x[1]))]
    if op == "MatMul":
        return [np.matmul(x[0], x[1])]
    if op == "Gemm":
        A = x[0].T if a.get("transA", 0) else x[0]
        B = x[1].T if a.get("transB", 0) else x[1]
        r = a.get("alpha", 1.0) * (A @ B)
        if len(x) > 2:
            r = r + a.get("beta", 1.0) * x[2]
        return [r.astype(x[0].dtype)]
    if op == "ReduceMean":
        return [np.mean(x[0], axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))).astype(x[0].dtype)]
    if op == "Softmax":
        e = np.exp(x[0] - x[0].max(axis=a.get("axis", -1), keepdims=True))
        return [e / e.sum(axis=a.get("axis", -1), keepdims=True)]
    if op == "LayerNormalization":
        ax = a.get("axis", -1)
        axes = tuple(range(ax % x[0].ndim, x[0].ndim))
        mu = x[0].mean(axis=axes, keepdims=True)
        var = ((x[0] - mu) ** 2).mean(axis=axes, keepdims=True)
        r = (x[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * x[1]
        return [(r + x[2] if len(x) > 2 else r).astype(x[0].dtype)]
    if op == "Dropout":
        return [x[0], np.ones(x[0].shape, dtype=np.bool_)]
    if op == "SoftmaxCrossEntropyLoss":
        assert a.get("reduction", b"mean") in ("mean", b"mean") and len(x) == 2
        z = x[0] - x[0].max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        keep = x[1] != a.get("ignore_index", -(1 << 62))
        lab = np.where(keep, x[1], 0)
        nll = -np.take_along_axis(logp, lab[:, None], axis=1)[:, 0] * keep
        return [np.array(nll.sum() / keep.sum(), dtype=x[0].dtype), logp]
    raise NotImplementedError(op)


def run_onnx(m, feeds, overrides=None, f64=False):
    """Run graph m on feeds; overrides replaces initializers; f64 computes every float in float64."""
    env = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    env.update(overrides or {})
    env.update(feeds)
    up = (lambda v: v.astype(np.float64) if v is not None and v.dtype == np.float32 else v) if f64 else (lambda v: v)
    for node in m.graph.node:
        a = _attrs(node)
        if f64 and node.op_type == "Cast" and a["to"] == 1:
            a["to"] = 11
        outs = _run_node(node.op_type, a, [up(env[i]) if i else None for i in node.input])
        for name, v in zip(node.output, outs):
            if name:
                env[name] = up(np.asarray(v))
    return [env[o.name] for o in m.graph.output]


def verify_export(m, spec, sets, fname):
    for i, s in enumerate(sets):
        got = run_onnx(m, {n: s[n] for n in spec["inputs"]})
        for n, g in zip(spec["outputs"], got):
            want = s["_out_" + n]
            assert g.shape == want.shape, (fname, i, n, g.shape, want.shape)
            err = float(np.max(np.abs(g - want))) if want.size else 0.0
            assert err < 1e-4, (fname, "set%d" % i, n, err)


def verify_grads(m, spec, refdir, onnx_map, model_name, nsets):
    """Central finite differences of the float64-evaluated ONNX graph, one random element of
    every parameter initializer, against the stored grad_*.npy (checks names/layout/tie split)."""
    rng = np.random.RandomState(7)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    worst = 0.0
    for i in range(nsets):
        d = os.path.join(refdir, "set%d" % i)
        feeds = {n: np.load(os.path.join(d, "input_%s.npy" % n)) for n in spec["inputs"]}
        if model_name.startswith("bert"):
            cot = np.load(os.path.join(d, "cotangent_logits.npy")).astype(np.float64)
            objective = lambda o: float((o[0] * cot).sum())
        else:
            objective = lambda o: float(o[0])
        for name, e in onnx_map.items():
            if e["kind"] != "param":
                continue
            g = np.load(os.path.join(d, e["grad_file"]))
            base = inits[name].astype(np.float64)
            idx = tuple(rng.randint(n) for n in base.shape)
            if name.endswith("embeddings.weight") or name == "shared.weight":  # pick a row that is used
                idx = (int(feeds["input_ids"][0, 0]),) + idx[1:]
            if name.endswith("token_type_embeddings.weight"):
                idx = (int(feeds["token_type_ids"][0, -1]),) + idx[1:]
            vals = []
            for sgn in (1.0, -1.0):
                w = base.copy()
                w[idx] += sgn * 1e-5
                vals.append(objective(run_onnx(m, feeds, {name: w}, f64=True)))
            fd = (vals[0] - vals[1]) / 2e-5
            err = abs(fd - float(g[idx])) / max(1e-3, abs(fd))
            worst = max(worst, err)
            assert err < 1e-3, (model_name, "set%d" % i, name, idx, fd, float(g[idx]))
    return worst


# --------------------------------------------------------------------------
# Export, reference data, parameter mapping
# --------------------------------------------------------------------------

def export(model, spec, example, path, opset, mode):
    args = tuple(torch.from_numpy(example[n]) for n in spec["inputs"])
    train = mode == "train"
    torch.onnx.export(
        model, args, path,
        export_params=True,
        keep_initializers_as_inputs=False,
        training=torch.onnx.TrainingMode.TRAINING if train else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=not train,
        opset_version=opset,
        input_names=spec["inputs"],
        output_names=spec["outputs"],
        dynamic_axes=spec["dynamic_axes"],
    )
    model.eval()  # export restores the mode, but be explicit
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def safe_name(name):
    """Initializer name -> file-name fragment (':' and '/' are not portable, Go module zips reject ':')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def tied_params(model):
    """{alias state_dict name: canonical named_parameters name} for tied params."""
    canon = {id(p): n for n, p in model.named_parameters()}
    return {n: canon[id(p)] for n, p in model.state_dict(keep_vars=True).items()
            if id(p) in canon and canon[id(p)] != n}


def map_initializers(m, model):
    """ONNX initializer name -> {"torch": name, "transposed": bool, "kind": param|buffer|constant}."""
    params = dict(model.named_parameters())
    aliases = tied_params(model)
    buffers = dict(model.named_buffers())
    out = {}
    for init in m.graph.initializer:
        a = onnx.numpy_helper.to_array(init)
        e = {"shape": list(a.shape), "dtype": str(a.dtype)}
        if init.name in params or init.name in aliases:
            e.update(kind="param", torch=aliases.get(init.name, init.name), transposed=False)
        elif init.name in buffers:
            e.update(kind="buffer", torch=init.name, transposed=False)
        else:
            e["kind"] = "constant"
            for n, p in params.items():
                v = p.detach().numpy()
                if a.shape == v.shape and np.array_equal(a, v):
                    e.update(kind="param", torch=n, transposed=False)
                    break
                if a.ndim == 2 and a.shape == v.T.shape and np.array_equal(a, v.T):
                    e.update(kind="param", torch=n, transposed=True)
                    break
        if e.get("torch") in set(aliases.values()) and e.get("transposed"):
            # Tied shared embedding used as LM head (MatMul with a transposed copy).
            e["torch"] = [k for k, v in aliases.items() if v == e["torch"] and k.startswith("lm_head")][0]
            e["tied_to"] = aliases[e["torch"]]
        elif e.get("torch") in aliases:
            e["tied_to"] = aliases[e["torch"]]
        out[init.name] = e
    return out


def untie_for_grads(model):
    """Copy of model in float64 where every *use* of a tied tensor is its own Parameter
    (lm_head.weight separate from shared.weight), so grads are per ONNX initializer."""
    g = copy.deepcopy(model).double().eval()
    if isinstance(g, T5ForConditionalGeneration):
        g.lm_head.weight = nn.Parameter(g.shared.weight.detach().clone())
    return g


def reference(model_name, spec, model, sets, onnx_map, outdir):
    refdir = os.path.join(outdir, "ref", model_name)
    grad_model = untie_for_grads(model)
    gparams = dict(grad_model.named_parameters())
    for i, s in enumerate(sets):
        d = os.path.join(refdir, "set%d" % i)
        os.makedirs(d, exist_ok=True)
        for n in spec["inputs"]:
            np.save(os.path.join(d, "input_%s.npy" % n), s[n])
        args = [torch.from_numpy(s[n]) for n in spec["inputs"]]
        outs = [torch.from_numpy(s["_out_" + n]) for n in spec["outputs"]]
        for n in spec["outputs"]:
            np.save(os.path.join(d, "output_%s.npy" % n), s["_out_" + n])

        grad_model.zero_grad()
        gouts = grad_model(*args)
        if model_name.startswith("bert"):
            rng = np.random.RandomState(100 + i)
            cot = rng.standard_normal(gouts.shape).astype(np.float32)
            np.save(os.path.join(d, "cotangent_logits.npy"), cot)
            loss = (gouts * torch.from_numpy(cot).double()).sum()
            ref_logits = outs[0].double()
            assert torch.allclose(gouts, ref_logits, atol=1e-4), "float64 vs float32 logits"
        else:
            loss = gouts[0]
            assert abs(loss.item() - outs[0].item()) < 1e-4, "float64 vs float32 loss"
        loss.backward()
        for oname, e in onnx_map.items():
            if e["kind"] != "param":
                continue
            gr = gparams[e["torch"]].grad.numpy()
            if e["transposed"]:
                gr = gr.T
            np.save(os.path.join(d, "grad_%s.npy" % safe_name(oname)), np.ascontiguousarray(gr, dtype=np.float32))


def op_histogram(m):
    c = collections.Counter()
    domains = set()
    for n in m.graph.node:
        c[n.op_type] += 1
        if n.domain not in ("", "ai.onnx"):
            domains.add(n.domain)
    return c, domains


def op_signatures(m):
    """{op_type: {"FLOAT,INT64", ...}} input element types per op, via onnx shape inference."""
    m = onnx.shape_inference.infer_shapes(m)
    name = onnx.TensorProto.DataType.Name
    types = {vi.name: name(vi.type.tensor_type.elem_type)
             for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    types.update({i.name: name(i.data_type) for i in m.graph.initializer})
    for n in m.graph.node:
        if n.op_type == "Constant":
            types[n.output[0]] = name(n.attribute[0].t.data_type)
    sig = collections.defaultdict(set)
    for n in m.graph.node:
        sig[n.op_type].add(",".join(types.get(i, "?") if i else "-" for i in n.input))
    return sig


def generate(outdir):
    os.makedirs(outdir, exist_ok=True)
    table = []
    union = collections.Counter()
    sigs = collections.defaultdict(set)
    notes = []
    for model_name, spec in MODELS.items():
        torch.manual_seed(0)
        model = spec["build"]().eval()
        sets = spec["sets"]()
        for st in sets:  # torch eval outputs, float32
            with torch.no_grad():
                outs = model(*[torch.from_numpy(st[n]) for n in spec["inputs"]])
            outs = outs if isinstance(outs, tuple) else (outs,)
            for n, o in zip(spec["outputs"], outs):
                st["_out_" + n] = o.numpy().astype(np.float32)
        params_json = {
            "grad_reference_export": "%s.op%d.eval.onnx" % (model_name, GRAD_EXPORT_OPSET),
            "torch_parameters": {n: list(p.shape) for n, p in model.named_parameters()},
            "tied": tied_params(model),
            "exports": {},
        }
        for opset in OPSETS:
            for mode in MODES:
                fname = "%s.op%d.%s.onnx" % (model_name, opset, mode)
                path = os.path.join(outdir, fname)
                m = export(model, spec, sets[0], path, opset, mode)
                verify_export(m, spec, sets, fname)
                mp = map_initializers(m, model)
                if opset == GRAD_EXPORT_OPSET and mode == "eval":
                    for e_name, e in mp.items():
                        if e["kind"] == "param":
                            e["grad_file"] = "grad_%s.npy" % safe_name(e_name)
                    grad_map, grad_onnx = mp, m
                params_json["exports"][fname] = mp
                hist, domains = op_histogram(m)
                union.update(hist)
                for k, v in op_signatures(m).items():
                    sigs[k] |= v
                if domains:
                    notes.append("%s: non-default domains %s" % (fname, sorted(domains)))
                unmapped = [k for k, v in mp.items() if v["kind"] == "constant"]
                table.append(dict(file=fname, size=os.path.getsize(path), opset=opset, mode=mode,
                                  nodes=len(m.graph.node), inits=len(m.graph.initializer),
                                  consts=len(unmapped), hist=hist))
                # every torch parameter must appear somewhere in the export
                covered = {v["torch"] for v in mp.values() if v["kind"] == "param"}
                covered |= {v.get("tied_to") for v in mp.values() if v.get("tied_to")}
                missing = set(params_json["torch_parameters"]) - covered
                assert not missing, (fname, missing)
        reference(model_name, spec, model, sets, grad_map, outdir)
        pdir = os.path.join(outdir, "ref", model_name)
        worst = verify_grads(grad_onnx, spec, pdir, grad_map, model_name, len(sets))
        print("%s: grads match finite differences of the op13 eval graph (worst rel err %.1e)" % (model_name, worst))
        with open(os.path.join(pdir, "params.json"), "w") as f:
            json.dump(params_json, f, indent=1, sort_keys=True)
            f.write("\n")
    generate_optimum_t5(outdir)
    generate_hf_layouts(outdir)
    write_readme(outdir, table, union, sigs, notes)
    return table, union, notes


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------

README_HEAD = """\
# ONNX test models (generated)

Everything in this folder except `gen.py` is produced by `gen.py`; do not edit by hand.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 testdata/onnx/gen.py          # regenerate in place
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 testdata/onnx/gen.py --check  # regenerate into a temp dir, diff

Generated with PyTorch {torch_version}, onnx {onnx_version}, numpy {numpy_version} (Debian packages, CPU).
All weights and inputs are seeded, so the output is deterministic for these versions.

## Models

Both models are written in plain torch (no `transformers`), closely following Hugging Face's
implementations, so the exported graphs and initializer names look like real HF exports.
All parameters get distinct random values (LayerNorm/RMSNorm weights ~ 1 + 0.1·N(0,1), others small)
so that renamed initializers can be mapped back to torch parameters by value.

### `bert_tiny_cls` — BertForSequenceClassification

vocab 120, max positions 64, type vocab 2, hidden 32, 2 layers, 2 heads (head dim 16), intermediate 64,
exact GELU (`Erf`), LayerNorm eps 1e-12, dropout 0.1 (embeddings, attention probs, attention output,
FFN output, before the classifier), pooler = dense+tanh on token 0, classifier 32→2.
The extended attention mask is built in-graph the HF way: `(1 - mask[:, None, None, :].float()) * finfo(float32).min`
(the constant is -3.4028235e38; scores + mask stay finite). Positions come from the
`bert.embeddings.position_ids` buffer (int64 initializer, `Slice`d to the sequence length).

| input | type | shape |
|---|---|---|
| `input_ids` | int64 | [batch, seq] |
| `attention_mask` | int64 | [batch, seq] (1 = token, 0 = pad) |
| `token_type_ids` | int64 | [batch, seq] |

| output | type | shape |
|---|---|---|
| `logits` | float32 | [batch, 2] |

### `t5_tiny` — T5ForConditionalGeneration

vocab 100, d_model 32, 2 heads, d_kv 16, d_ff 64 (ReLU, `wi`/`wo`), 2 encoder + 2 decoder blocks,
no biases, T5LayerNorm (RMSNorm, eps 1e-6: `x * rsqrt(mean(x^2) + eps) * weight`), no 1/sqrt(d) in attention,
relative position bias (8 buckets, max distance 16; bidirectional in the encoder, causal in the decoder;
only block 0 of each stack owns `relative_attention_bias`, later blocks reuse the bias) computed in-graph
from the sequence lengths (`Range`, `Log`, `Cast`, `Where`, `Gather`, …), causal decoder self-attention mask,
cross-attention, dropout 0.1 at T5's places. The embedding `shared.weight` is tied to the LM head,
with the `d_model**-0.5` rescale before the head. `loss = F.cross_entropy(logits.view(-1, V), labels.view(-1),
ignore_index=-100)` (mean over non-ignored tokens), exported as `SoftmaxCrossEntropyLoss`.
`decoder_input_ids` are passed in (HF `_shift_right` of `labels`, start token 0, -100 → 0); they are not
derived from `labels` inside the graph.

| input | type | shape |
|---|---|---|
| `input_ids` | int64 | [batch, src_len] |
| `attention_mask` | int64 | [batch, src_len] (encoder padding; also used for cross-attention) |
| `decoder_input_ids` | int64 | [batch, tgt_len] |
| `labels` | int64 | [batch, tgt_len] (-100 = ignored) |

| output | type | shape |
|---|---|---|
| `loss` | float32 | [] (scalar) |
| `logits` | float32 | [batch, tgt_len, 100] |

## Exports

`<model>.op<13|14|17>.<eval|train>.onnx`, all from the same weights:

* `eval`: `training=TrainingMode.EVAL`, `do_constant_folding=True`. No Dropout nodes. Constant folding
  replaces the `Transpose` of each `nn.Linear` weight feeding a `MatMul` with a new, transposed initializer
  named `onnx::MatMul_<n>` (the bias keeps its HF name); 2-D linears (BERT pooler, classifier) become `Gemm`
  with `transB=1` and keep their names.
* `train`: `training=TrainingMode.TRAINING`, `do_constant_folding=False`. `Dropout` nodes (ratio 0.1,
  `training_mode=True`) remain, weights keep their HF names and are transposed by `Transpose` nodes in the graph.
* Opset 17 exports turn `nn.LayerNorm` into `LayerNormalization`; opsets 13/14 decompose it
  (`ReduceMean`, `Sub`, `Pow`, `Sqrt`, `Div`, …). T5's RMSNorm is always decomposed.
* `export_params=True`, `keep_initializers_as_inputs=False`; dynamic axes on batch and sequence lengths
  (`batch`, `seq` / `src_len`, `tgt_len`). Every file passes `onnx.checker.check_model(full_check=True)`.

## Reference data: `ref/<model>/`

    ref/<model>/params.json
    ref/<model>/set<N>/input_<input name>.npy       int64 inputs
    ref/<model>/set<N>/output_<output name>.npy     float32 outputs of the torch model in eval mode (float32)
    ref/<model>/set<N>/cotangent_logits.npy         bert only: fixed random cotangent for logits
    ref/<model>/set<N>/grad_<initializer>.npy       float32 gradient for each parameter initializer

Input sets:

* `bert_tiny_cls/set0`: batch 2 × seq 7, row 1 padded after 4 tokens (mask 0, id 0, type 0).
* `bert_tiny_cls/set1`: batch 3 × seq 13, row 2 padded after 9 tokens.
* `t5_tiny/set0`: batch 2, src 7, tgt 4; row 1: source padded after 4 tokens, labels -100 after 2.
* `t5_tiny/set1`: batch 3, src 13, tgt 5; row 0: source padded after 10 tokens; no ignored labels.

Token ids are uniform random in-vocab (seeded numpy `RandomState`); BERT token types are 0 then 1 from a
random split point. Set 0 is also the example input used for the exports.

Gradients are whole-model gradients from torch autograd on a float64 copy of the model in eval mode
(no dropout), stored as float32:

* bert: `L = sum(logits * cotangent_logits)`.
* t5: `L = loss` (the model's own output; mean cross-entropy over non-ignored labels).

**Gradient file names follow the initializers of `<model>.op13.eval.onnx` only**:
`grad_<name>.npy` where `<name>` is the initializer name with every character outside `[A-Za-z0-9._-]`
replaced by `_` (e.g. `onnx::MatMul_123` → `grad_onnx__MatMul_123.npy`). Each gradient has the shape and layout
of its initializer, i.e. it is transposed for the `onnx::MatMul_*` copies. Each gradient is taken treating
the initializer as an independent input of the graph: in T5, `shared.weight` (both embedding `Gather`s)
and the LM head's transposed copy (an `onnx::MatMul_*`, mapped to torch `lm_head.weight`, `tied_to`
`shared.weight`) get separate gradients; the tied torch gradient is `grad(shared.weight) + grad(lm_head copy)ᵀ`.
In the `train` exports, which are not constant-folded, `shared.weight` is a single initializer feeding both the
`Gather`s and a `Transpose` for the head, so its gradient there is that sum.

`params.json`:

    grad_reference_export   the export whose initializer names the grad_*.npy files use
    torch_parameters        torch parameter name -> shape (tied params listed once)
    tied                    alias torch name -> canonical torch name (T5: lm_head / encoder|decoder.embed_tokens -> shared)
    exports[<file>][<initializer name>] = {
        kind        "param" | "buffer" | "constant" (folded constants that are not parameters)
        torch       torch parameter/buffer name (params, buffers)
        transposed  true if the initializer is the transpose of the torch tensor
        tied_to     canonical torch name, for a use of a tied parameter
        shape, dtype
        grad_file   (only in grad_reference_export) the grad_*.npy for this initializer
    }

Initializers of all exports are mapped: by name when torch kept the parameter name, otherwise by exact value
equality with the parameter or its transpose.

## Checks done by `gen.py`

* `onnx.checker.check_model(full_check=True)` on every file.
* A small numpy interpreter (`run_onnx`, the ops listed below only; onnx 1.12 has no `onnx.reference`)
  runs every export on both input sets and must reproduce the torch outputs within 1e-4
  (`Dropout` treated as the identity, so the `train` exports are checked as well).
* For `<model>.op13.eval.onnx`, one random element of every parameter initializer is perturbed and the
  float64-evaluated graph's central finite difference must match the stored `grad_*.npy` (rel. err < 1e-3;
  observed < 1e-6), which checks the name mapping, the transposed layout and the tied-weight split.

## Things to know when implementing the kernels

* Only the default `ai.onnx` domain is used (no `com.microsoft` ops, no functions). IR version 7
  (opsets 13/14) or 8 (opset 17).
* Every file contains `Shape` → `Gather`/`Slice` → `Unsqueeze` → `Concat` → `Reshape`/`Expand`/`Tile`/
  `ConstantOfShape`/`Range` subgraphs on int64 (dynamic batch/sequence lengths: the attention head
  reshapes, `position_ids` slicing, T5's relative positions and causal mask). Shape computations can be
  folded once the input shapes are known, but they are real graph nodes here.
* int64 arithmetic appears: `Add`, `Sub`, `Mul`, `Neg`, `Abs`, `Min`, `Greater`, `Less`, `LessOrEqual`,
  `Where`, `Range`, `Expand`, `Tile`, `Reshape`, `Squeeze`, `Unsqueeze`, `Gather` (T5 position buckets and
  causal mask; BERT positions).
* T5's bucket computation takes `Log` of `|relative position| / max_exact`, which is `log(0) = -inf` on
  the diagonal; the result goes through `Mul`, then `Cast` float → int64 (undefined for -inf in C / Go;
  numpy gives INT64_MIN), then `Min`, and is discarded by `Where(is_small, …)`. A kernel must not trap on it.
* `Cast` int64 → int64 (a no-op) occurs (`torch.arange` of a shape value).
* The attention masks are additive and use `finfo(float32).min` = -3.4028235e38, not -10000: scores + mask
  stays finite, but `mask + mask` or `mask * 2` would overflow to -inf. In T5 the decoder self-attention
  mask is `causal (float) * ones(batch, tgt_len)` made in-graph with `ConstantOfShape`.
* `Dropout` (train exports) has the ratio (float32 scalar 0.1) and `training_mode` (bool scalar true) as
  `Constant` inputs, and a second output (the mask) that nothing consumes.
* `SoftmaxCrossEntropyLoss`: `reduction="mean"`, `ignore_index=-100`, 2-D scores `[batch*tgt_len, 100]`,
  no weights; only the first output (`loss`) is used.
* `ReduceMean` has `axes` as an attribute (it became an input only in opset 18); `Squeeze`/`Unsqueeze`
  take `axes` as an input (opset 13+); `Reshape` carries `allowzero=0` from opset 14 on.
* `Pow` has a float exponent constant 2.0 (LayerNorm decomposition and T5's RMSNorm).

## Files

"""


# --------------------------------------------------------------------------
# Optimum's split seq2seq layout: encoder_model.onnx + decoder_model.onnx
# --------------------------------------------------------------------------

class T5EncoderExport(nn.Module):
    """Optimum's encoder_model.onnx: (input_ids, attention_mask) -> last_hidden_state.
    Attributes named as in T5ForConditionalGeneration so initializers keep HF names."""

    def __init__(self, t5):
        super().__init__()
        self.shared = t5.shared
        self.encoder = t5.encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids, attention_mask)


class T5DecoderExport(nn.Module):
    """Optimum's decoder_model.onnx (no past key values):
    (input_ids, encoder_attention_mask, encoder_hidden_states) -> logits."""

    def __init__(self, t5):
        super().__init__()
        self.model_dim = t5.model_dim
        self.shared = t5.shared
        self.decoder = t5.decoder
        self.lm_head = t5.lm_head

    def forward(self, input_ids, encoder_attention_mask, encoder_hidden_states):
        seq = self.decoder(input_ids, None, encoder_hidden_states, encoder_attention_mask)
        return self.lm_head(seq * (self.model_dim ** -0.5))


OPTIMUM_OPSET = 14


def generate_optimum_t5(outdir):
    """t5_tiny (same weights as t5_tiny.*.onnx) split the way Optimum exports seq2seq models,
    with torch's loss and logits for set 0 (labels shifted right into decoder_input_ids)."""
    d = os.path.join(outdir, "optimum_t5_tiny")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    spec = MODELS["t5_tiny"]
    t5 = spec["build"]().eval()
    s = spec["sets"]()[0]
    ids, mask = torch.from_numpy(s["input_ids"]), torch.from_numpy(s["attention_mask"])
    dec_ids = torch.from_numpy(s["decoder_input_ids"])
    enc, dec = T5EncoderExport(t5).eval(), T5DecoderExport(t5).eval()
    with torch.no_grad():
        hidden = enc(ids, mask)
        logits = dec(dec_ids, mask, hidden)
        loss, want = t5(ids, mask, dec_ids, torch.from_numpy(s["labels"]))
    assert float((logits - want).abs().max()) < 1e-5
    for module, args, names, outs, axes in (
        (enc, (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state"],
         {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
          "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
          "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}}),
        (dec, (dec_ids, mask, hidden), ["input_ids", "encoder_attention_mask", "encoder_hidden_states"], ["logits"],
         {"input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
          "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
          "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
          "logits": {0: "batch_size", 1: "decoder_sequence_length"}}),
    ):
        path = os.path.join(d, ("encoder" if module is enc else "decoder") + "_model.onnx")
        torch.onnx.export(module, args, path, export_params=True, keep_initializers_as_inputs=False,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True,
                          opset_version=OPTIMUM_OPSET, input_names=names, output_names=outs, dynamic_axes=axes)
        onnx.checker.check_model(onnx.load(path), full_check=True)
    for name in ("input_ids", "attention_mask", "labels", "decoder_input_ids"):
        np.save(os.path.join(d, "input_%s.npy" % name), s[name])
    np.save(os.path.join(d, "output_logits.npy"), logits.numpy().astype(np.float32))
    np.save(os.path.join(d, "output_loss.npy"), loss.numpy().astype(np.float32))
    np.save(os.path.join(d, "output_last_hidden_state.npy"), hidden.numpy().astype(np.float32))


# --------------------------------------------------------------------------
# Hugging-Face-structured exports, laid out as the exporters write them:
# model.onnx + config.json per folder, Optimum's input/output names and
# dynamic axes, and torch's outputs on one padded batch (input_*.npy,
# output_*.npy) for the import oracles.
# --------------------------------------------------------------------------

class RobertaEmbeddings(nn.Module):
    """RobertaEmbeddings: no token types input (a zero buffer), positions counted
    from the padding id (create_position_ids_from_input_ids: cumsum over non-pad)."""
    padding_idx = 1

    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=self.padding_idx)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings + 2, c.hidden_size, padding_idx=self.padding_idx)
        self.token_type_embeddings = nn.Embedding(1, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=1e-5)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.register_buffer("token_type_ids", torch.zeros((1, c.max_position_embeddings), dtype=torch.long))

    def forward(self, input_ids):
        mask = input_ids.ne(self.padding_idx).int()
        position_ids = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.padding_idx
        token_type_ids = self.token_type_ids[:, :input_ids.size(1)].expand(input_ids.size(0), input_ids.size(1))
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(e))


class RobertaModel(nn.Module):
    """RobertaModel(add_pooling_layer=False), as RobertaForSequenceClassification holds it:
    (input_ids, attention_mask) -> last_hidden_state."""

    def __init__(self, c):
        super().__init__()
        self.embeddings = RobertaEmbeddings(c)
        self.encoder = BertEncoder(c)

    def forward(self, input_ids, attention_mask):
        h = self.embeddings(input_ids)
        ext = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        return self.encoder(h, ext)


class DistilBertConfig:
    vocab_size = 120
    dim = 32
    n_layers = 2
    n_heads = 2
    hidden_dim = 64
    max_position_embeddings = 64
    dropout = 0.1
    attention_dropout = 0.1
    seq_classif_dropout = 0.2
    num_labels = 2


class DistilEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.dim, padding_idx=0)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.dim)
        self.LayerNorm = nn.LayerNorm(c.dim, eps=1e-12)
        self.dropout = nn.Dropout(c.dropout)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)))

    def forward(self, input_ids):
        pos = self.position_ids[:, :input_ids.size(1)]
        return self.dropout(self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(pos)))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.dim = c.n_heads, c.dim
        self.dropout = nn.Dropout(c.attention_dropout)
        self.q_lin, self.k_lin = nn.Linear(c.dim, c.dim), nn.Linear(c.dim, c.dim)
        self.v_lin, self.out_lin = nn.Linear(c.dim, c.dim), nn.Linear(c.dim, c.dim)

    def forward(self, x, mask):
        bs, k_len = x.size(0), x.size(1)
        dph = self.dim // self.n_heads

        def shape(t):
            return t.view(bs, -1, self.n_heads, dph).transpose(1, 2)

        q = shape(self.q_lin(x)) / math.sqrt(dph)
        k, v = shape(self.k_lin(x)), shape(self.v_lin(x))
        scores = torch.matmul(q, k.transpose(2, 3))
        m = (mask == 0).view(bs, 1, 1, k_len).expand_as(scores)
        scores = scores.masked_fill(m, torch.tensor(torch.finfo(scores.dtype).min))
        w = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(w, v).transpose(1, 2).contiguous().view(bs, -1, self.n_heads * dph)
        return self.out_lin(ctx)


class DistilFFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(c.dropout)
        self.lin1, self.lin2 = nn.Linear(c.dim, c.hidden_dim), nn.Linear(c.hidden_dim, c.dim)

    def forward(self, x):
        return self.dropout(self.lin2(F.gelu(self.lin1(x))))


class DistilTransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.ffn = DistilFFN(c)
        self.output_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class DistilTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([DistilTransformerBlock(c) for _ in range(c.n_layers)])

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = DistilEmbeddings(c)
        self.transformer = DistilTransformer(c)

    def forward(self, input_ids, attention_mask):
        return self.transformer(self.embeddings(input_ids), attention_mask)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c.dim, c.dim)
        self.classifier = nn.Linear(c.dim, c.num_labels)
        self.dropout = nn.Dropout(c.seq_classif_dropout)

    def forward(self, input_ids, attention_mask):
        pooled = self.distilbert(input_ids, attention_mask)[:, 0]
        return self.classifier(self.dropout(F.relu(self.pre_classifier(pooled))))


def _bert_config_json(model_type, extra=None):
    c = BertConfig
    d = {"model_type": model_type, "architectures": None, "vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
         "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
         "intermediate_size": c.intermediate_size, "max_position_embeddings": c.max_position_embeddings,
         "type_vocab_size": c.type_vocab_size, "pad_token_id": 0}
    d.update(extra or {})
    return d


def hf_layouts():
    """The Hugging-Face-structured exports: (folder, build, input names, outputs, opset, config.json).
    Inputs come from bert_sets()[0] (row 1 padded), renamed for the export's input names."""
    d = DistilBertConfig
    return [
        ("hf_bert_model", lambda: BertModel(BertConfig),
         ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"], 13,
         _bert_config_json("bert", {"architectures": ["BertModel"]})),
        # Older TF-style input names (BERT's run_classifier: input_mask, segment_ids).
        ("hf_bert_tf_names", lambda: BertModel(BertConfig),
         ["input_ids", "input_mask", "segment_ids"], ["last_hidden_state", "pooler_output"], 15,
         _bert_config_json("bert", {"architectures": ["BertModel"]})),
        ("hf_roberta_model", lambda: RobertaModel(BertConfig),
         ["input_ids", "attention_mask"], ["last_hidden_state"], 14,
         _bert_config_json("roberta", {"architectures": ["RobertaModel"], "type_vocab_size": 1, "pad_token_id": 1,
                                       "max_position_embeddings": BertConfig.max_position_embeddings + 2})),
        ("hf_distilbert_seqcls", lambda: DistilBertForSequenceClassification(d),
         ["input_ids", "attention_mask"], ["logits"], 17,
         {"model_type": "distilbert", "architectures": ["DistilBertForSequenceClassification"],
          "vocab_size": d.vocab_size, "dim": d.dim, "n_layers": d.n_layers, "n_heads": d.n_heads,
          "hidden_dim": d.hidden_dim, "max_position_embeddings": d.max_position_embeddings,
          "seq_classif_dropout": d.seq_classif_dropout, "pad_token_id": 0,
          "id2label": {"0": "negative", "1": "positive"}, "label2id": {"negative": 0, "positive": 1}}),
    ]


def generate_hf_layouts(outdir):
    """Write each Hugging-Face-structured export to <outdir>/<folder>/ with torch's outputs."""
    base = bert_sets()[0]
    for k, (folder, build, names, outs, opset, config) in enumerate(hf_layouts()):
        torch.manual_seed(0)
        model = randomize(build(), 100 + k).eval()
        feeds = dict(zip(names, (base["input_ids"].copy(), base["attention_mask"], base["token_type_ids"])))
        if config["model_type"] == "roberta":
            ids = feeds["input_ids"]
            ids[ids == 1] = 2                           # id 1 is RoBERTa's padding
            ids[base["attention_mask"] == 0] = 1
        d = os.path.join(outdir, folder)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        args = tuple(torch.from_numpy(feeds[n]) for n in names)
        axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
        for o in outs:
            axes[o] = {0: "batch_size", 1: "sequence_length"} if o == "last_hidden_state" else {0: "batch_size"}
        torch.onnx.export(model, args, path, export_params=True, keep_initializers_as_inputs=False,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True,
                          opset_version=opset, input_names=names, output_names=outs, dynamic_axes=axes)
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        with torch.no_grad():
            got = model(*args)
        got = got if isinstance(got, tuple) else (got,)
        want = run_onnx(m, feeds)
        for o, t, w in zip(outs, got, want):
            t = t.numpy().astype(np.float32)
            assert np.allclose(w, t, atol=1e-4), (folder, o, float(np.abs(w - t).max()))
            np.save(os.path.join(d, "output_%s.npy" % o), t)
        for n in names:
            np.save(os.path.join(d, "input_%s.npy" % n), feeds[n])
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")


def write_readme(outdir, table, union, sigs, notes):
    head = README_HEAD
    for k, v in (("{torch_version}", torch.__version__), ("{onnx_version}", onnx.__version__),
                 ("{numpy_version}", np.__version__)):
        head = head.replace(k, v)
    lines = [head]
    lines.append("| file | bytes | opset | mode | nodes | initializers | op histogram |\n")
    lines.append("|---|---:|---:|---|---:|---:|---|\n")
    for r in table:
        hist = ", ".join("%s %d" % (k, v) for k, v in sorted(r["hist"].items()))
        lines.append("| `%s` | %d | %d | %s | %d | %d | %s |\n" % (
            r["file"], r["size"], r["opset"], r["mode"], r["nodes"], r["inits"], hist))
    lines.append("\nUnion of op types over all files (node count summed over files):\n\n")
    lines.append(", ".join("`%s` %d" % (k, v) for k, v in sorted(union.items())) + "\n")
    lines.append("\nInput element types per op (all files; from `onnx.shape_inference`; `-` = omitted optional input):\n\n")
    lines.append("| op | input types |\n|---|---|\n")
    for k in sorted(sigs):
        lines.append("| `%s` | %s |\n" % (k, "; ".join("`%s`" % v if v else "(none)" for v in sorted(sigs[k]))))
    if notes:
        lines.append("\nNotes:\n\n" + "".join("* %s\n" % n for n in notes))
    lines.append("\n## Hugging-Face-structured exports\n\n"
                 "Folders as the exporters lay them out (`model.onnx` + `config.json`; eval mode, constant folding, "
                 "dynamic axes `batch_size`/`sequence_length`), with torch's outputs for the padded batch "
                 "`input_*.npy` → `output_*.npy`; `optimum_t5_tiny/` is `t5_tiny` as Optimum's two files.\n\n"
                 "| folder | torch module | opset | inputs | outputs |\n|---|---|---:|---|---|\n")
    for folder, build, names, outs, opset, config in hf_layouts():
        lines.append("| `%s/` | %s | %d | %s | %s |\n" % (folder, config["architectures"][0], opset,
                     ", ".join("`%s`" % n for n in names), ", ".join("`%s`" % o for o in outs)))
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write("".join(lines))


# --------------------------------------------------------------------------
# --check
# --------------------------------------------------------------------------

def check(tmp):
    generate(tmp)
    bad = []
    for root, _, files in os.walk(tmp):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            rel = os.path.relpath(p, tmp)
            q = os.path.join(HERE, rel)
            if not os.path.exists(q):
                bad.append("missing in tree: " + rel)
            elif fn.endswith(".npy"):
                a, b = np.load(p), np.load(q)
                if a.shape != b.shape or a.dtype != b.dtype or not np.allclose(a, b, rtol=1e-5, atol=1e-6):
                    bad.append("differs: " + rel)
            elif not filecmp.cmp(p, q, shallow=False):
                bad.append("differs: " + rel)
    for root, dirs, files in os.walk(HERE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for fn in files:
            rel = os.path.relpath(os.path.join(root, fn), HERE)
            if rel != "gen.py" and not os.path.exists(os.path.join(tmp, rel)):
                bad.append("stale (not generated): " + rel)
    for b in bad:
        print(b)
    print("check:", "OK" if not bad else "%d problem(s)" % len(bad))
    return not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir and diff against this folder")
    ap.add_argument("--out", default=HERE, help="output directory (default: this folder)")
    a = ap.parse_args()
    if a.check:
        tmp = tempfile.mkdtemp(prefix="crsc-onnx-")
        try:
            sys.exit(0 if check(tmp) else 1)
        finally:
            shutil.rmtree(tmp)
    table, union, notes = generate(a.out)
    for r in table:
        print("%-32s %8d bytes  opset %d  %d nodes" % (r["file"], r["size"], r["opset"], r["nodes"]))
    print("op union:", " ".join(sorted(union)))
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()
