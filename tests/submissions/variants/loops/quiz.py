"""Answers to the quiz on sequential data and recurrent networks.

True/false answers are written as "yes"/"no" and turned into booleans;
multiple-choice answers are the numbers of the chosen statements.
"""

TRUE_FALSE = [
    ("order_matters", "yes"),  # reordering a sentence or a time series changes its meaning
    ("same_length_in_batch", "no"),  # sequences of different lengths share a batch (with a mask)
    ("state_is_linear", "no"),  # s(t) = tanh(b + W s(t-1) + U x(t)): the tanh makes it nonlinear
]
CHOICES = [
    ("markov_property", 2),  # the current state summarises the past inputs
    ("s_t_plus_2", 4),  # s(t+2) = f(s(t+1), x(t+2)) = f(f(s(t), x(t+1)), x(t+2))
]


def answers():
    """The five answers, keyed as the quiz asks."""
    result = dict(CHOICES)
    for question, answer in TRUE_FALSE:
        result[question] = answer == "yes"
    return result
