# Student template: replace each `raise NotImplementedError` with your code.
# Keep the file name, the function names, arguments and return values as they are.
"""Questions on sequential data and recurrent networks.

Answer by returning a dict from ``answers()`` with exactly these keys:

"order_matters" (True/False)
    In sequential data, the order of the elements carries information.
"same_length_in_batch" (True/False)
    A batch of sequential data always holds sequences of one common length.
"state_is_linear" (True/False)
    In an RNN, s(t) is a linear combination of s(t-1) and x(t).
"markov_property" (1 or 2)
    Which statement describes the Markov property of an RNN?
    1. The distribution of the current output does not depend on past input
       characters once the current input character is known.
    2. The distribution of the current output does not depend on past input
       characters once the current input character and the current state are known.
"s_t_plus_2" (1, 2, 3 or 4)
    For the dynamical system s(t+1) = f(s(t), x(t+1)), which expression is s(t+2)?
    1. f(s(t), x(t+1))
    2. f(s(t), x(t+2))
    3. f(f(s(t), x(t)), x(t+1))
    4. f(f(s(t), x(t+1)), x(t+2))
"""


def answers():
    """Your answers to the questions above.

    Returns:
        dict with exactly the five keys above, each mapped to your answer.
    """
    # YOUR CODE HERE
    raise NotImplementedError("answers is not implemented yet")
