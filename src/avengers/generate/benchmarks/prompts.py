"""The reference implementation's prompts, word for word.

Each constant is the prompt of ZhangYiqun018/Avengers `evaluate/<Benchmark>/<file>.py` at
commit 168bcb9 (file:line in the comment); `{...}` fields are filled as the reference fills
them. The KOR-Bench 3-shot templates are KOR-Bench's own `config/prompt/three-shot.yaml`
(KOR-Bench/KOR-Bench at bb8194d), which the reference reads from its data folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# evaluate/AIME/aime.py:24, MATH500/math500.py:30, LiveMathBench/livemathbench.py:23,
# MATHBench/mathbench.py:22 (CLOZE_PROMPT); `{Question}` is filled with str.replace.
MATH = (
    "Solve the following math problem step by step. The last line of your response should only contain "
    "your final answer inside a \\boxed{} command.\n\n{Question}\n\nRemember to put your final answer on "
    "the last line using the format \\boxed{$ANSWER} where $ANSWER is the answer to the problem."
)

# evaluate/FinQA/finqa.py:30 (note "problem", not "math problem")
FINQA = MATH.replace("following math problem", "following problem")

# evaluate/GPQA/gpqa.py:20, MedQA/medqa.py:20, BrainTeaser/brainteaser.py:20
CHOICE = (
    "Answer the following question. The last line of your response should be of the following format: "
    "'Answer: $LETTER' (without quotes) where LETTER is one of {candidates}.\n\n{question}\n\n{options}\n\n"
    "Let's think step by step."
)

# evaluate/MMLUPro/mmlupro.py:20 (the subject is the row's category)
MMLU_PRO = CHOICE.replace("Answer the following question.", "Answer the following {subject} question.")

# evaluate/Winogrande/winogrande.py:20 (two spaces after "form:" as in the reference)
WINOGRANDE = (
    "You are given a *cloze* sentence containing a blank marked by underscores `___`. Only **one** of the "
    "two options correctly fills the blank while preserving commonsense.\n\nAfter your reasoning, end with a "
    "line **exactly** in the form:  `Answer: $LETTER`, where `LETTER` is **A** or **B**.\n\nCloze Sentence:\n"
    "{sentence}\n\nOptions:\nA. {option1}\nB. {option2}\n\nLet's think step by step."
)

# evaluate/EmoryNLP/emorynlp.py:20, MELD/meld.py:20, DailyDialog/dailydialog.py:20
EMOTION = (
    "Given a conversation history and a current utterance, follow these steps to identify the emotion of "
    "the current utterance from the given options. The emotion should be determined based on both the "
    "conversation context and the current utterance.\nThe last line of your response should be of the "
    "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCDEFG. Let's think step "
    "by step.\n\nHistory:\n{history}\n\nUtterance:\n{utterance}\n\nOptions:\n{options}"
)

# evaluate/BBH/bbh.py:24 (the template is the task's 3 worked examples)
BBH = (
    'Answer the logical question, Write a line of the form "Answer: $ANSWER" at the end of your response. '
    "Let's think step by step.\n\nHere are 3 examples to help you understand how to answer the question:\n"
    "{template}\n\nQuestion: {question}"
)

# evaluate/K_and_K/k_and_k.py:21 (not stripped: it ends with a newline)
KNIGHTS_KNAVES = (
    "Your task is to solve a logical reasoning problem. You are given set of statements from which you must "
    "logically deduce the identity of a set of characters.\n\nYou must infer the identity of each character. "
    "First, explain your reasoning. At the end of your answer, you must clearly state the identity of each "
    "character by following the format:\n\nCONCLUSION:\n(1) ...\n(2) ...\n(3) ...\n\n### Question:\n{question}\n"
)

# evaluate/MBPP/mbpp.py:22, HumanEval/humaneval.py:22, StudentEval/studenteval.py:22
CODE = "You are an expert Python programmer, and here is your task:\n{question}\n\nYour code should pass these tests:\n{test}"

# evaluate/MBPP/utils.py:5 (also HumanEval, StudentEval): prepended to every program graded
CODE_IMPORTS = (
    "import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
    "import collections", "import heapq", "import functools", "import hashlib", "import numpy",
    "import numpy as np", "import string", "from typing import *", "from collections import *",
)

# KOR-Bench config/prompt/three-shot.yaml: per category an introduction and a rule heading;
# then the rule, three worked questions of the same rule, and the question.
_KOR_INTRO = {
    "cipher": (
        "You are an intelligent assistant that specializes in encryption and decryption tasks. Below are the "
        "rules for a specific cipher. When responding, please ensure that your output adheres to the specified "
        "encryption and decryption rules and format.\n\n### Instructions:\n\n1. Identify the relevant properties "
        "and objects specified in the rule, including the plaintext, keyword, and ciphertext.\n2. Follow the "
        "specified encryption or decryption operations precisely as described in the rules.\n3. Ensure your "
        "output is formatted according to the specified notation and symbols.",
        "Cipher Rule",
    ),
    "counterfactual": (
        "You are an advanced assistant with expertise in storytelling and rule-based reasoning. Your task is to "
        "carefully analyze the provided story, which includes specific rules and details, and use this "
        "information to accurately answer related questions.\n\n### Instructions:\n\n1. Thoroughly review the "
        "story to identify and understand the relevant details and rules.\n2. Use the context provided by the "
        "story to offer precise and insightful answers.\n3. Ensure your responses align with the rules and "
        "information given in the story.",
        "Story Rule",
    ),
    "logic": (
        "You are an intelligent assistant that helps with various logical reasoning tasks. Below is a "
        "custom-defined rule for a specific type of logic. When responding, please ensure that your output "
        "adheres to the specified logical rules and format.\n\n### Instructions:\n\n1. Identify the relevant "
        "properties and objects as specified in the rule.\n2. Apply the given logical operations or reasoning "
        "patterns.\n3. Ensure your output is formatted according to the specified notation and symbols.",
        "Logic Rule",
    ),
    "operation": (
        "You are an intelligent assistant specializing in evaluating custom operations. Below is a specific "
        "rule defined for a custom operation. Your task is to apply this rule accurately to the provided "
        "question.\n\n### Instructions:\n\n1. Carefully read and understand the definitions of the new "
        "operations in the rule.\n2. If the question does not specifically ask for it, your answer should be a "
        "number or a group of numbers.\n3. Double-check your final answer to ensure it follows the rule "
        "accurately.",
        "Operation Rule",
    ),
    "puzzle": (
        "You are an intelligent assistant specializing in solving custom puzzle problems. Below is a specific "
        "rule defined for a custom puzzle. Your task is to apply this rule accurately to the provided "
        "question.\n\n### Instructions:\n\n1. Thoroughly understand the rule provided. If needed, break down "
        "the rule into simpler components or steps.\n2. Apply the rule carefully to address the question "
        "presented.\n3. Verify your answer to ensure it aligns with the rule and the context of the puzzle.",
        "Puzzle Rule",
    ),
}
KOR_CATEGORIES = tuple(_KOR_INTRO)


def korbench(category: str, rule: str, shots: Sequence[tuple[str, str]], question: str) -> str:
    """The KOR-Bench 3-shot prompt of a category (its `<category>_prompt_format`, filled)."""
    intro, heading = _KOR_INTRO[category]
    worked = "".join(f"### Question:\n{q}\n\n### Answer:\n{a}\n\n" for q, a in shots)
    return f"{intro}\n\n### {heading}:\n\n{rule}\n\n{worked}### Question:\n{question}\n\n### Answer:\n"


def options_block(options: Mapping[str, str], sep: str = ". ") -> str:
    """'A. first\\nB. second' (the reference's `f"{key}. {value}"` lines; ARC and BrainTeaser use ') ')."""
    return "\n".join(f"{k}{sep}{v}" for k, v in options.items())
